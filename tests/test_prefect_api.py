"""The temporary Prefect API server of a flow command: it answers, and it never outlives its command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 300.0


def fresh_prefect_environment(tmp_path: Path) -> dict[str, str]:
    """A user's environment with no Prefect settings, Prefect's home in ``tmp_path``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    environment["PREFECT_HOME"] = str(tmp_path / "prefect")
    return environment


def test_server_answers_its_health_check_and_stops(tmp_path, monkeypatch):
    from pipelines.cli.prefect_api import TemporaryApiServer

    for name, value in fresh_prefect_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    server = TemporaryApiServer()
    try:
        server.wait(STARTUP_TIMEOUT_S)
        with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()
    assert server.process.poll() is not None


def uvicorn_children(process: psutil.Process) -> list[psutil.Process]:
    return [child for child in process.children(recursive=True) if "uvicorn" in " ".join(child.cmdline())]


def test_sigkill_of_the_command_stops_its_server(tmp_path):
    """A SIGKILLed command does not leave its temporary server running: Linux sends the server SIGTERM."""
    command = subprocess.Popen(
        [sys.executable, "flows.py", "--prefect", "preprocess-amass", "--workspace", str(tmp_path / "workspace")],
        cwd=REPOSITORY_ROOT, env=fresh_prefect_environment(tmp_path), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        parent = psutil.Process(command.pid)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not (servers := uvicorn_children(parent)):
            assert command.poll() is None and time.monotonic() < deadline, "the command started no server"
            time.sleep(0.2)
        command.send_signal(signal.SIGKILL)
        command.wait()
        gone, alive = psutil.wait_procs(servers, timeout=30)
        assert not alive, f"server still running after its command was killed: {[p.pid for p in alive]}"
    finally:
        if command.poll() is None:
            command.kill()
