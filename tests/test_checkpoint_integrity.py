"""A checkpoint replaced after publication is refused by finetune and evaluate, as a changed store is.

The checkpoint versions here are published by hand with a few bytes as the checkpoint: the check runs when
the file is opened from its version, before anything parses it, so no trained model is needed.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from conftest import synthetic_views
from typer.testing import CliRunner

from datasets.store import integrity, write_store
from datasets.store.integrity import FileIntegrityError, check_file
from datasets.workspace import Workspace
from pipelines.cli import app
from pipelines.lineage.versioning import StageRun

JOINT_NAMES = [f"joint_{i}" for i in range(17)]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "user-cache"))


@pytest.fixture
def published(tmp_path: Path) -> dict:
    """A pose store version and a finetune version made from it, whose checkpoint_best holds 64 bytes."""
    run = StageRun(tmp_path, "convert-test", config={"fps": 50})
    with run:
        views = [dataclasses.replace(view, split="test") for view in synthetic_views([12])]
        snapshot = write_store(run.directory / "store", views, "h36m17", JOINT_NAMES)
        data = run.publish(counts={"views": 1}, outputs={"store": run.store_output(run.directory / "store", snapshot)})
    run = StageRun(tmp_path, "finetune", config={"model": "uplift-upsample"}, parents=[data.id])
    with run:
        (run.directory / "checkpoint_best.pt").write_bytes(bytes(range(64)))
        (run.directory / "metrics.jsonl").write_text("{}\n")
        outputs = {name: run.file_output(run.directory / file) for name, file in
                   (("checkpoint_best", "checkpoint_best.pt"), ("metrics", "metrics.jsonl"))}  # fmt: skip
        checkpoint = run.publish(counts={"steps": 1}, outputs=outputs)
    return {"root": tmp_path, "data": data, "checkpoint": checkpoint}


def replace_checkpoint(root: Path, checkpoint) -> Path:
    """Overwrite the published checkpoint with other bytes of the same size (its manifest untouched)."""
    path = root / checkpoint.outputs["checkpoint_best"]["path"]
    path.write_bytes(bytes(reversed(range(64))))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later write, as a copy makes
    return path


def test_check_file_hashes_once_and_again_only_after_a_change(published, monkeypatch):
    """The cache rule of stores: a record keyed by path, recorded SHA-256, size and mtime skips the re-hash."""
    root, checkpoint = published["root"], published["checkpoint"]
    recorded = checkpoint.outputs["checkpoint_best"]
    hashed, sha256 = [], integrity.file_sha256
    monkeypatch.setattr(integrity, "file_sha256", lambda path: hashed.append(path) or sha256(path))
    check_file(root / recorded["path"], recorded, checkpoint.id)
    check_file(root / recorded["path"], recorded, checkpoint.id)
    assert len(hashed) == 1
    replace_checkpoint(root, checkpoint)
    with pytest.raises(FileIntegrityError, match=f"{recorded['path']} of version {checkpoint.id}"):
        check_file(root / recorded["path"], recorded, checkpoint.id)
    assert len(hashed) == 2


def test_evaluate_refuses_a_replaced_checkpoint_and_publishes_nothing(published):
    from pipelines.evaluate.flows import evaluation_version

    root, checkpoint, data = published["root"], published["checkpoint"], published["data"]
    replace_checkpoint(root, checkpoint)
    with pytest.raises(FileIntegrityError, match=checkpoint.id) as refusal:
        evaluation_version.fn(str(root), checkpoint.id, data.id, "test", None, "cpu")
    assert checkpoint.outputs["checkpoint_best"]["path"] in str(refusal.value)
    assert [manifest.stage for manifest in Workspace(root).manifests()] == ["convert-test", "finetune"]


def test_finetune_refuses_a_replaced_init_checkpoint_and_publishes_nothing(published):
    from pipelines.train.flows import train_version

    root, checkpoint, data = published["root"], published["checkpoint"], published["data"]
    replace_checkpoint(root, checkpoint)
    with pytest.raises(FileIntegrityError, match=checkpoint.id):
        train_version.fn("finetune", str(root), data.id, checkpoint.id, "uplift-upsample", "demo", "demo",
                         {"max_steps": 1}, "cpu", False)  # fmt: skip
    assert len(Workspace(root).manifests()) == 2


def test_the_evaluate_command_refuses_in_one_error_line_naming_version_and_file(published):
    root, checkpoint, data = published["root"], published["checkpoint"], published["data"]
    replace_checkpoint(root, checkpoint)
    arguments = ["evaluate", "--checkpoint", checkpoint.id, "--data", data.id, "--device", "cpu"]
    result = CliRunner().invoke(app, [*arguments, "--workspace", str(root)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.output.rstrip().endswith(errors[0])
    assert checkpoint.id in errors[0] and checkpoint.outputs["checkpoint_best"]["path"] in errors[0]
