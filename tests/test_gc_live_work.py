"""``gc`` never removes the work of a stage that is running, and ages leftovers by their newest file.

A stage run holds its version's work folder (``cache/<id>``) for as long as it runs; a training writes deep
inside it (``cache/<id>/train/metrics.jsonl``), which leaves the folder's own modification time where it
was. ``gc`` used to age ``cache/<id>`` by that time alone, so any run older than 24 h lost its work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datasets.workspace import Workspace

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
DAY_S = 24 * 3600
TWO_DAYS_AGO_S = 2 * DAY_S
"""Every file of the 'old' work is dated two days back: older than gc's 24 h default either way."""

RUNNING_STAGE = """
import sys, time
from pipelines.lineage.versioning import StageRun
run = StageRun(sys.argv[1], "preprocess-h36m", config={"a stage that is": "running"})
with run:
    work = run.workspace.work_directory(run.id) / "train"
    work.mkdir(parents=True, exist_ok=True)
    (work / "metrics.jsonl").write_text("{}\\n")
    (run.directory / "partial.txt").write_text("written by the running stage")
    print(run.id, run.directory, flush=True)
    time.sleep(600)
"""


def _date_back(folder: Path, seconds: float) -> None:
    """Set the modification time of ``folder`` and of everything under it ``seconds`` into the past."""
    then = time.time() - seconds
    for path in sorted(folder.rglob("*"), reverse=True) + [folder]:
        os.utime(path, (then, then), follow_symlinks=False)


def _gc(workspace: Path) -> str:
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(workspace), "PYTHONPATH": str(REPOSITORY_ROOT)}
    done = subprocess.run([sys.executable, "flows.py", "gc"], cwd=REPOSITORY_ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.timeout(240)
def test_gc_keeps_a_running_stages_old_work_and_collects_it_once_the_process_is_dead(tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
    stage = subprocess.Popen([sys.executable, "-c", RUNNING_STAGE, str(tmp_path)], cwd=REPOSITORY_ROOT,
                             env=environment, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        version, attempt = stage.stdout.readline().split()
        work = Workspace(tmp_path).work_directory(version)
        _date_back(work, TWO_DAYS_AGO_S)
        _date_back(Path(attempt), TWO_DAYS_AGO_S)
        _gc(tmp_path)
        assert (work / "train" / "metrics.jsonl").is_file() and (Path(attempt) / "partial.txt").is_file()
    finally:
        stage.send_signal(signal.SIGKILL)  # a dead process: the kernel releases its lock
        stage.wait(timeout=60)
    _gc(tmp_path)
    assert not work.exists() and not Path(attempt).exists()


def test_gc_ages_a_work_folder_by_its_newest_file_not_by_its_own_time(tmp_path):
    """Both folders are dated two days back; one has a file written just now two levels down: it stays."""
    stale, recent = tmp_path / "cache" / "finetune-000000000001", tmp_path / "cache" / "finetune-000000000002"
    for folder in (stale, recent):
        (folder / "train" / "checkpoints").mkdir(parents=True)
        (folder / "train" / "checkpoints" / "last.pt").write_bytes(b"weights")
        _date_back(folder, TWO_DAYS_AGO_S)
    (recent / "train" / "checkpoints" / "last.pt").write_bytes(b"newer weights")
    os.utime(recent / "train" / "checkpoints", (time.time() - TWO_DAYS_AGO_S,) * 2)
    os.utime(recent, (time.time() - TWO_DAYS_AGO_S,) * 2)
    assert Workspace(tmp_path).unreferenced(older_than_s=DAY_S) == [stale]
    _gc(tmp_path)
    assert not stale.exists() and (recent / "train" / "checkpoints" / "last.pt").read_bytes() == b"newer weights"
