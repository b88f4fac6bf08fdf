"""How a ``python flows.py`` command talks to Prefect when the user has not said: the temporary local API.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server (a uvicorn subprocess with a SQLite
database under ``~/.prefect``) for the command and stops it at exit. Prefect waits 20 s for it by default,
which a loaded machine misses: with both cores busy, ``preprocess-amass`` fails with "Timed out while
attempting to connect to ephemeral Prefect API server". The defaults below apply only where the
user's environment says nothing; a user who runs a Prefect server sets ``PREFECT_API_URL`` and none of this
matters (``docs/operations.md``).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, MutableMapping

EPHEMERAL_STARTUP_TIMEOUT_S = 600
"""Seconds to wait for the temporary API server. Measured start-up: 7-20 s on a quiet 2-core machine, 40-115 s
with 8 busy processes on it; 10 minutes is far beyond any healthy start and still ends a stuck one."""

STARTUP_TIMEOUT_VARIABLE = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"

PREFECT_DEFAULTS: Mapping[str, str] = {
    STARTUP_TIMEOUT_VARIABLE: str(EPHEMERAL_STARTUP_TIMEOUT_S),
    # The temporary server otherwise tries to send usage telemetry, which fails (and logs) offline.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
"""Prefect settings (environment variables) a command applies unless the environment already sets them."""


def apply_prefect_defaults(environment: MutableMapping[str, str] = os.environ) -> None:
    """Set each of ``PREFECT_DEFAULTS`` the environment does not set; call before Prefect is imported."""
    for name, value in PREFECT_DEFAULTS.items():
        environment.setdefault(name, value)


API_URL_VARIABLE = "PREFECT_API_URL"
HEALTH_POLL_S = 0.1
STOP_GRACE_S = 5.0
"""Seconds the server gets to stop after SIGTERM before it is killed."""
PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: deliver a signal to this process when its parent dies."""


class TemporaryApiServer:
    """A Prefect API server for one command: started before the flow's imports, stopped when the command ends.

    Prefect would start the same server (its ``create_app`` factory under uvicorn, ephemeral: no UI, no
    background services) at the flow's first API call, after importing its server package in this process
    (5.6 s) and then waiting for the subprocess (~8 s). Started here first, the subprocess boots on the other
    core while this process imports torch, Prefect and the flow (~8 s), and this process never imports the
    server package. ``PREFECT_API_URL`` points this process's Prefect at it; on Linux the server receives
    SIGTERM if this process dies (even by SIGKILL), so no server outlives its command.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        environment = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                       "PREFECT__SERVER_FINAL": "1"}  # fmt: skip
        command = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app", "--host",
                   "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]  # fmt: skip
        self.process = subprocess.Popen(command, env=environment, preexec_fn=_die_with_parent)  # noqa: PLW1509
        atexit.register(self.stop)

    def wait(self, timeout_s: float) -> None:
        """Block until the server answers its health check; raise if it exits or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Prefect's temporary API server exited with code {self.process.returncode}.")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass  # not listening yet: poll again
            time.sleep(HEALTH_POLL_S)
        raise RuntimeError(
            f"Prefect's temporary API server did not answer within {timeout_s:.0f} s; raise "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS or point PREFECT_API_URL at a running server."
        )

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within ``STOP_GRACE_S``)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's process before it runs: ask Linux for SIGTERM when the command's process dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


_server: TemporaryApiServer | None = None


def start_temporary_api_early() -> None:
    """Start this command's API server unless ``PREFECT_API_URL`` names one; call before Prefect is imported."""
    global _server
    if _server is None and not os.environ.get(API_URL_VARIABLE):
        _server = TemporaryApiServer()
        os.environ[API_URL_VARIABLE] = _server.url


def wait_for_temporary_api() -> None:
    """Wait for the server ``start_temporary_api_early`` started (a no-op when it started none)."""
    if _server is not None:
        timeout_s = float(os.environ.get(STARTUP_TIMEOUT_VARIABLE, EPHEMERAL_STARTUP_TIMEOUT_S))
        _server.wait(timeout_s)
