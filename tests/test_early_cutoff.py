"""Early cutoff: a child's id depends on the content of the parent outputs it reads, not on the parents' ids."""

from __future__ import annotations

import pytest
import torch
from test_versioning import run_store_stage

from datasets.workspace import Workspace
from lifting.training.distributed import resolve_precision
from pipelines.lineage.versioning import StageRun, parent_content, rerun_parameters


def child_run(workspace, parent_id: str, reads=None) -> StageRun:
    return StageRun(workspace, "train-test", config={"epochs": 1}, parents=[parent_id], reads=reads)


def test_two_parent_versions_with_identical_arrays_give_one_child_id(tmp_path, make_views):
    views = make_views([4, 5])
    first, _ = run_store_stage(tmp_path, views, {"fps": 50, "converter": "old"}, stage="preprocess-test")
    second, _ = run_store_stage(tmp_path, views, {"fps": 50, "converter": "new"}, stage="preprocess-test")
    assert first.id != second.id
    assert first.outputs["store"]["snapshot"] != second.outputs["store"]["snapshot"]  # two Icechunk commits
    child, worked = run_store_stage(tmp_path, make_views([3]), {"epochs": 1}, [first.id], stage="train-test")
    assert worked and child_run(tmp_path, second.id).id == child.id
    reused, worked_again = run_store_stage(tmp_path, make_views([3]), {"epochs": 1}, [second.id], stage="train-test")
    assert not worked_again and reused.id == child.id
    assert reused.parents == (first.id,)  # which version made it, and (below) which content
    assert reused.parent_content == (parent_content(second),)


def test_a_parent_with_other_arrays_gives_another_child_id(tmp_path, make_views):
    """The two parents hold views of the same lengths, so their index tables match; only one 2D point differs."""
    views = make_views([4, 5])
    moved = make_views([4, 5])
    moved[1].keypoints_2d[2, 3, 0] += 1.0
    first, _ = run_store_stage(tmp_path, views, {"fps": 50, "converter": "old"}, stage="preprocess-test")
    other, _ = run_store_stage(tmp_path, moved, {"fps": 50, "converter": "new"}, stage="preprocess-test")
    assert first.outputs["store"]["index_sha256"] == other.outputs["store"]["index_sha256"]
    assert first.outputs["store"]["array_sha256"] != other.outputs["store"]["array_sha256"]
    assert child_run(tmp_path, first.id).id != child_run(tmp_path, other.id).id


def test_only_the_outputs_read_count(tmp_path, make_views):
    parent, _ = run_store_stage(tmp_path, make_views([4]), {"fps": 50}, stage="preprocess-test")
    content = parent_content(parent, ["store"])
    assert content == {"store": {"index_sha256": parent.outputs["store"]["index_sha256"],
                                 "array_sha256": parent.outputs["store"]["array_sha256"]}}  # fmt: skip
    with pytest.raises(KeyError, match="no output 'checkpoint_best'"):
        child_run(tmp_path, parent.id, reads={parent.id: ["checkpoint_best"]})


def test_a_version_made_outside_its_flow_cannot_be_refreshed(tmp_path, make_views):
    manifest, _ = run_store_stage(tmp_path, make_views([2]), {"fps": 50}, stage="preprocess-test")
    assert "flow_run" not in manifest.metadata["runtime"]
    with pytest.raises(ValueError, match="python flows.py preprocess-test"):
        rerun_parameters(Workspace(tmp_path).get(manifest.id))


def test_auto_precision_resolves_by_device():
    """What goes into a training id: bf16 autocast on CUDA, fp32 elsewhere; explicit choices stay."""
    assert resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cuda", 0)) == "bf16"
    assert resolve_precision("bf16", torch.device("cpu")) == "bf16"
    assert resolve_precision("fp32", torch.device("cuda", 0)) == "fp32"
    with pytest.raises(ValueError, match="'fp16'"):
        resolve_precision("fp16", torch.device("cpu"))
