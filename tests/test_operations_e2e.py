"""End to end as a user would: a Prefect server, `flows.py serve`, a deployment run; a Dask cluster batch.

Every process the tests start is stopped by PID at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).with_name("dask"))
"""This interpreter's ``dask`` command: a ``dask`` found first on PATH may be another Python's, without mocaplift."""
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def background(command: list[str], environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Start a process in its own session; on exit terminate it (then kill it) by PID."""
    handle = open(log, "w")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(command, cwd=REPOSITORY_ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    try:
        yield process
    finally:
        for sent in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is None:
                os.killpg(process.pid, sent)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    continue
        handle.close()


def wait_for(condition, what: str, process: subprocess.Popen, log: Path, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"{what}: process exited early:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not ready after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(1)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_served_deployment_run_completes_and_its_version_is_listed(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    environment = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "MOCAPLIFT_WORKSPACE": str(tmp_path / "workspace"),
    }
    server_command = ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with background(server_command, environment, tmp_path / "server.log") as server:
        wait_for(lambda: answers(f"{api}/health"), "prefect server", server, tmp_path / "server.log")
        client_environment = {**environment, "PREFECT_API_URL": api}
        with background([sys.executable, "flows.py", "serve"], client_environment, tmp_path / "serve.log") as serve:
            serve_log = tmp_path / "serve.log"
            wait_for(lambda: "deployments are being served" in serve_log.read_text(), "deployments", serve, serve_log)
            run = subprocess.run(
                ["prefect", "deployment", "run", "preprocess-amass/preprocess-amass", "--watch"],
                env=client_environment, capture_output=True, text=True, timeout=600, cwd=REPOSITORY_ROOT,
            )  # fmt: skip
            assert run.returncode == 0, (
                run.stdout[-2000:] + run.stderr[-2000:] + (tmp_path / "serve.log").read_text()[-3000:]
            )
            assert "COMPLETED" in run.stdout.upper()
    versions = subprocess.run(
        [sys.executable, "flows.py", "versions", "preprocess-amass", "--json"],
        env=environment, capture_output=True, text=True, check=True, cwd=REPOSITORY_ROOT,
    )  # fmt: skip
    rows = json.loads(versions.stdout)
    assert len(rows) == 1 and rows[0]["stage"] == "preprocess-amass"


def test_batch_run_on_a_dask_scheduler_with_two_workers(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "MOCAPLIFT_WORKSPACE": str(tmp_path / "workspace"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    scheduler_command = [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"]
    with background(scheduler_command, environment, tmp_path / "scheduler.log") as scheduler:
        wait_for(lambda: "Scheduler at" in (tmp_path / "scheduler.log").read_text(), "scheduler", scheduler,
                 tmp_path / "scheduler.log")  # fmt: skip
        worker_command = [DASK, "worker", address, "--nthreads", "1", "--no-dashboard"]
        with (
            background(worker_command, environment, tmp_path / "worker0.log") as worker0,
            background(worker_command, environment, tmp_path / "worker1.log") as worker1,
        ):
            for number, worker in enumerate((worker0, worker1)):
                log = tmp_path / f"worker{number}.log"
                wait_for(lambda log=log: "Registered to" in log.read_text(), "worker", worker, log)
            run = subprocess.run(
                [sys.executable, "flows.py", "preprocess-amass", "--dask-address", address],
                env=environment, capture_output=True, text=True, timeout=600, cwd=REPOSITORY_ROOT,
            )  # fmt: skip
            assert run.returncode == 0, run.stderr[-3000:]
            assert f"cluster at {address}" in run.stdout + run.stderr
    versions = subprocess.run(
        [sys.executable, "flows.py", "versions", "preprocess-amass", "--json"],
        env=environment, capture_output=True, text=True, check=True, cwd=REPOSITORY_ROOT,
    )  # fmt: skip
    assert len(json.loads(versions.stdout)) == 1
