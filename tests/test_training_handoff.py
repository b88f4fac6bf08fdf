"""Under torchrun, rank 0 alone publishes a training version and hands its id to the other ranks.

Two real processes in a gloo process group (as ``torchrun --nproc_per_node=2`` starts them); the training
itself is replaced by a stand-in so the test checks the hand-off, not DDP.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from datasets.workspace import Workspace
from lifting.training import TrainingConfig
from pipelines.lineage.versioning import StageRun

pytestmark = pytest.mark.slow  # two spawned processes importing torch and Prefect: ~40 s on a busy machine

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rank(rank: int, workspace: str, port: int, data_id: str, rank0_fails: bool) -> None:
    """One torchrun-like process: train_or_reuse with a stand-in training; writes what it returned or raised."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    from pipelines.train import publish as training_publish

    def stand_in(registry, job, run, parents, is_main):
        if not is_main:
            return None
        if rank0_fails:
            raise ValueError("rank 0 broke")
        with run:
            return run.publish(counts={"steps": 0}, outputs={})

    training_publish._train_this_rank = stand_in
    job = training_publish.TrainingJob("pretrain", data_id, None, "mixste", "demo", "demo", TrainingConfig(),
                                       "cpu", resume=False)  # fmt: skip
    try:
        outcome = training_publish.train_or_reuse(Workspace(workspace), job).id
    except (RuntimeError, ValueError) as error:
        outcome = f"{type(error).__name__}: {error}"
    Path(workspace, f"rank{rank}.txt").write_text(outcome)


@pytest.fixture
def data_version(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "cache"))  # inherited by the spawned ranks
    run = StageRun(tmp_path, "preprocess-test", config={})
    with run:
        (run.directory / "store").write_text("a stand-in for a pose store: only its checksum is read")
        return run.publish(counts={}, outputs={"store": run.file_output(run.directory / "store")}).id


def _run_ranks(workspace: Path, data_id: str, rank0_fails: bool) -> list[str]:
    mp.start_processes(_rank, (str(workspace), _free_port(), data_id, rank0_fails), nprocs=WORLD_SIZE,
                       start_method="spawn")  # fmt: skip
    return [(workspace / f"rank{rank}.txt").read_text() for rank in range(WORLD_SIZE)]


def test_other_ranks_return_the_version_rank_0_published(tmp_path, data_version):
    """Rank 0 publishes one version; rank 1 returns that same version (broadcast id, read from the registry)."""
    outcomes = _run_ranks(tmp_path, data_version, rank0_fails=False)
    [published] = Workspace(tmp_path).manifests("pretrain")
    assert outcomes == [published.id, published.id]


def test_other_ranks_fail_at_once_when_rank_0_publishes_nothing(tmp_path, data_version):
    """Rank 0's error propagates there; rank 1 is released by the broadcast with an error naming rank 0."""
    outcomes = _run_ranks(tmp_path, data_version, rank0_fails=True)
    assert outcomes == ["ValueError: rank 0 broke", "RuntimeError: pretrain: rank 0 published no version (see its log)"]
    assert Workspace(tmp_path).manifests("pretrain") == []
