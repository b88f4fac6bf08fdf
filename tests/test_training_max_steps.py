"""``--max-steps`` works at any count: a run stopped before its first validation publishes its last checkpoint
as the best (there is no better one yet) instead of failing on a missing ``checkpoint_best.pt``."""

from __future__ import annotations

import pytest
from conftest import synthetic_views

from datasets.store import write_store
from datasets.workspace import Workspace
from lifting.training import BEST_CHECKPOINT, LAST_CHECKPOINT
from pipelines.lineage.versioning import StageRun, file_sha256
from pipelines.train.flows import train_version

JOINT_NAMES = [f"joint_{i}" for i in range(17)]


@pytest.fixture
def data_version(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "cache"))
    run = StageRun(tmp_path, "preprocess-test", config={})
    with run:
        views = synthetic_views([120, 90, 100, 80])
        snapshot = write_store(run.directory / "store", views, "h36m17", JOINT_NAMES)
        return run.publish(counts={}, outputs={"store": run.store_output(run.directory / "store", snapshot)})


def test_max_steps_before_the_first_validation_publishes_the_last_checkpoint_as_best(tmp_path, data_version):
    manifest = train_version.fn("pretrain", str(tmp_path), data_version.id, None, "uplift-upsample", "demo", "demo",
                                {"max_steps": 2}, "cpu", False)  # fmt: skip
    assert manifest.counts["steps"] == 2 and manifest.counts["epochs"] == 0
    registry = Workspace(tmp_path)
    best, last = registry.output_path(manifest, "checkpoint_best"), registry.output_path(manifest, "checkpoint_last")
    assert best.name == BEST_CHECKPOINT and last.name == LAST_CHECKPOINT
    assert file_sha256(best) == file_sha256(last) == manifest.outputs["checkpoint_best"]["sha256"]
