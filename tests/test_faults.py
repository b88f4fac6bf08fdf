"""Faults: a Dask worker SIGKILLed mid-conversion loses nothing; racing runs of one version publish once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_operations_e2e import DASK, REPOSITORY_ROOT, background, free_port, wait_for

from datasets.synthetic.amass_archive import ArchiveFile, build_demo_amass, write_demo_archive
from datasets.workspace import Workspace

pytestmark = pytest.mark.slow

LARGER_ARCHIVE_FILES = 36
MOTIONS = ("walk", "turn", "jump", "sit", "wave")
FRAGMENTS_BEFORE_THE_KILL = 3


def larger_archive(root: Path) -> tuple[Path, Path, Path]:
    """The demo's body models and regressor, and an archive of 36 motion files (4 s each, 120 Hz)."""
    demo = build_demo_amass(root / "demo")
    files = tuple(
        ArchiveFile(f"CMU/{number // 6:02d}/{number:02d}_{MOTIONS[number % 5]}_poses.npz", MOTIONS[number % 5], 120.0,
                    4.0, "female" if number % 2 else "male")
        for number in range(LARGER_ARCHIVE_FILES)
    )  # fmt: skip
    write_demo_archive(root / "archive", files)
    return root / "archive", demo.body_models, demo.regressor


def command(archive: Path, body_models: Path, regressor: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "flows.py", "preprocess-amass", "--amass-root", str(archive), "--body-models", str(body_models),
        "--regressor", str(regressor), *extra,
    ]  # fmt: skip


def test_killing_one_of_two_workers_mid_run_leaves_the_store_of_an_undisturbed_run(tmp_path):
    archive, body_models, regressor = larger_archive(tmp_path / "data")
    environment = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    undisturbed = {**environment, "MOCAPLIFT_WORKSPACE": str(tmp_path / "undisturbed")}
    reference = subprocess.run(command(archive, body_models, regressor, "--workers", "2"), env=undisturbed,
                               capture_output=True, text=True, cwd=REPOSITORY_ROOT, timeout=900)  # fmt: skip
    assert reference.returncode == 0, reference.stdout[-2000:] + reference.stderr[-3000:]

    disturbed = {**environment, "MOCAPLIFT_WORKSPACE": str(tmp_path / "disturbed")}
    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler_command = [DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                         "--dashboard-address", ":0"]  # fmt: skip
    worker_command = [DASK, "worker", address, "--nthreads", "1", "--no-dashboard"]
    with (
        background(scheduler_command, disturbed, tmp_path / "scheduler.log") as scheduler,
        background(worker_command, disturbed, tmp_path / "worker0.log"),
        background(worker_command, disturbed, tmp_path / "worker1.log") as victim,
    ):
        wait_for(lambda: "Scheduler at" in (tmp_path / "scheduler.log").read_text(), "scheduler", scheduler,
                 tmp_path / "scheduler.log")  # fmt: skip
        for number in (0, 1):
            log = tmp_path / f"worker{number}.log"
            wait_for(lambda log=log: "Registered to" in log.read_text(), "worker", victim, log)
        runs = []
        for attempt in range(2):  # the run itself, then at most one rerun
            run = subprocess.Popen(
                command(archive, body_models, regressor, "--dask-address", address), env=disturbed,
                cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            output: list[str] = []
            reader = threading.Thread(target=lambda run=run, output=output: output.append(run.stdout.read()))
            reader.start()
            if attempt == 0:
                cache = tmp_path / "disturbed" / "cache"
                deadline = time.monotonic() + 600
                while len(list(cache.glob("*/*.json"))) < FRAGMENTS_BEFORE_THE_KILL:
                    if run.poll() is not None or time.monotonic() > deadline:
                        run.kill()
                        reader.join()
                        pytest.fail(f"the run ended (exit {run.poll()}) before the kill:\n{''.join(output)[-3000:]}")
                    time.sleep(0.1)
                os.killpg(victim.pid, signal.SIGKILL)
            run.wait(timeout=900)
            reader.join()
            runs.append((run.returncode, "".join(output)))
            if run.returncode == 0:
                break
    assert runs[-1][0] == 0, runs
    [expected] = Workspace(tmp_path / "undisturbed").manifests()
    [published] = Workspace(tmp_path / "disturbed").manifests()
    assert published.config == expected.config and published.inputs == expected.inputs
    assert published.counts == expected.counts
    assert published.outputs["store"]["array_sha256"] == expected.outputs["store"]["array_sha256"]
    assert published.outputs["store"]["index_sha256"] == expected.outputs["store"]["index_sha256"]


def test_two_runs_of_one_version_at_once_publish_one_version(tmp_path):
    archive, body_models, regressor = larger_archive(tmp_path / "data")
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(tmp_path / "workspace"),
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    runs = [
        subprocess.Popen(
            command(archive, body_models, regressor, "--workers", "1"),
            env=environment,
            cwd=REPOSITORY_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    failed = [f"run {number} exit {run.returncode}:\n{output[-3000:]}" for number, (run, output) in
              enumerate(zip(runs, outputs, strict=True)) if run.returncode]  # fmt: skip
    assert not failed, "\n".join(failed)
    [manifest] = Workspace(tmp_path / "workspace").manifests()
    assert all(f"version {manifest.id}" in output for output in outputs)
    attempts = list((tmp_path / "workspace" / "versions" / manifest.id).iterdir())
    assert len(attempts) == 1  # the loser removed its attempt
