"""The ``lift`` flow on plain arrays with a tiny checkpoint version: outputs, reuse, a folder with a bad file, errors.

The checkpoint is a randomly initialised small MixSTE published as a ``finetune``-like version that records
its training rate (50 Hz), so these runs take seconds; the demo's real checkpoint is exercised by the slow
end-to-end test in ``test_training_flows.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from datasets.config import to_jsonable
from datasets.workspace import Workspace
from lifting.models.mixste import MixSTE, MixSTEConfig
from lifting.training.checkpoint import TrainingProgress, make_checkpoint, save_checkpoint
from pipelines.lift.flow import lift
from pipelines.lineage.versioning import StageRun
from pipelines.orchestration import run_in_process

TINY = {"max_frames": 9, "dim": 16, "depth": 1, "num_heads": 2, "drop_path": 0.0}
SIZE = [1000, 1000]


def publish_checkpoint(workspace: Path) -> str:
    """A tiny MixSTE checkpoint as a version with a ``checkpoint_best`` output, trained (it says) at 50 Hz."""
    torch.manual_seed(0)
    model = MixSTE(MixSTEConfig(**TINY))
    checkpoint = make_checkpoint(
        model_name="mixste", model_preset=None, model_overrides=TINY, model_config_data=to_jsonable(model.config),
        training_data={}, skeleton="h36m17", joint_names=(), model=model, ema=None,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=TrainingProgress(),
    )  # fmt: skip
    run = StageRun(workspace, "finetune", config={"model": "mixste", "fps": 50.0, "tiny": TINY})
    with run:
        path = Path(run.directory) / "checkpoint_best.pt"
        save_checkpoint(path, checkpoint)
        return run.publish(counts={}, outputs={"checkpoint_best": run.file_output(path)}).id


def keypoints(frames: int, seed: int) -> np.ndarray:
    """(T, 17, 3) pixels and scores of a figure drifting across a 1000 x 1000 image."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(300, 700, (1, 17, 2)) + np.linspace(0, 100, frames)[:, None, None]
    return np.concatenate([base, np.full((frames, 17, 1), 0.9)], axis=-1).astype(np.float32)


def lift_in_process(workspace: Path, checkpoint: str | None, source: Path, run: dict | None = None) -> str:
    given = {"joint_order": "h36m17", "fps": 50.0, "image_size": SIZE}
    parameters = {"checkpoint": checkpoint, "keypoints": str(source), "options": given, "run": run,
                  "workspace": str(workspace)}  # fmt: skip
    return run_in_process(lift, parameters)


def test_a_plain_array_is_lifted_into_a_version_that_a_rerun_reuses(tmp_path, capsys):
    """One (40, 17, 3) array: poses_3d.npz holds (40, 17, 3) float32 3D with the root joint at the origin, the
    2D as given, every joint observed, frames 0..39 at 50 Hz; the JSON holds the same numbers (to 1e-6); the
    viewer's title escapes the file's name; the same call again returns the same version and does no work."""
    workspace, source = tmp_path / "ws", tmp_path / "clip<b>.npy"
    checkpoint = publish_checkpoint(workspace)
    np.save(source, keypoints(40, 0))
    first = lift_in_process(workspace, checkpoint, source)
    registry = Workspace(workspace)
    manifest = registry.get(first)
    assert manifest.parents == (checkpoint,) and manifest.stage == "lift"
    saved = np.load(registry.output_path(manifest, "poses_3d"))
    assert saved["poses_3d"].shape == (40, 17, 3) and saved["poses_3d"].dtype == np.float32
    np.testing.assert_allclose(saved["poses_3d"][:, 0], 0.0, atol=1e-6)  # root-relative: pelvis at the origin
    np.testing.assert_allclose(saved["keypoints_2d"], keypoints(40, 0), atol=1e-5)
    assert saved["observed"].all() and saved["frame_indices"].tolist() == list(range(40)) and saved["fps"] == 50.0
    document = json.loads(registry.output_path(manifest, "poses_3d_json").read_text())
    np.testing.assert_allclose(np.array(document["poses_3d"]), saved["poses_3d"], atol=1e-6)
    assert document["joint_names"] == saved["joint_names"].tolist() and document["source"] == "clip<b>.npy"
    assert "lift: clip&lt;b&gt;.npy" in registry.output_path(manifest, "viewer").read_text()
    capsys.readouterr()
    assert lift_in_process(workspace, checkpoint, source) == first
    assert "lift: reused version" in capsys.readouterr().out


@pytest.mark.parametrize("workers", [None, 2])
def test_a_folder_publishes_every_good_file_and_lists_the_bad_one_in_rejected(tmp_path, workers):
    """A folder of two (T, 17, 3) arrays and one (T, 5, 3) array, in this process (3 items) or on 2 forked
    workers: one version with a poses_3d.npz per good file (named by the file) and the 5-joint file in the
    rejected table, its detail saying what is wrong."""
    workspace, folder = tmp_path / "ws", tmp_path / "clips"
    folder.mkdir()
    checkpoint = publish_checkpoint(workspace)
    np.save(folder / "a.npy", keypoints(30, 1))
    np.save(folder / "b.npy", keypoints(12, 2))
    np.save(folder / "broken.npy", keypoints(20, 3)[:, :5])
    version = lift_in_process(workspace, checkpoint, folder, run={"workers": workers})
    registry = Workspace(workspace)
    manifest = registry.get(version)
    assert manifest.counts == {"inputs": 3, "lifted": 2, "rejected": 1, "frames": 42}
    for name, frames in (("a.npy", 30), ("b.npy", 12)):
        assert np.load(registry.output_path(manifest, f"{name}/poses_3d"))["poses_3d"].shape == (frames, 17, 3)
    rejected = pq.read_table(registry.output_path(manifest, "rejected")).to_pylist()
    assert [row["path"] for row in rejected] == [str(folder / "broken.npy")]
    assert rejected[0]["reason"] == "unusable_keypoints" and "5 joints" in rejected[0]["detail"]


def test_a_single_unusable_file_fails_before_the_model_and_publishes_nothing(tmp_path):
    """A (20, 5, 3) array named as Human3.6M-17: one error naming the file, and no lift version."""
    workspace, source = tmp_path / "ws", tmp_path / "five.npy"
    checkpoint = publish_checkpoint(workspace)
    np.save(source, keypoints(20, 4)[:, :5])
    with pytest.raises(ValueError, match="five.npy"):
        lift_in_process(workspace, checkpoint, source)
    assert not Workspace(workspace).manifests("lift")


def test_without_a_finetuned_checkpoint_the_error_says_to_run_pretrain_finetune(tmp_path):
    source = tmp_path / "clip.npy"
    np.save(source, keypoints(10, 5))
    with pytest.raises(ValueError, match=r"run `python flows.py pretrain-finetune` first"):
        lift_in_process(tmp_path / "empty", None, source)


def test_video_and_bvh_are_outputs_of_their_own_version_copied_where_asked(tmp_path):
    """--video clip.gif and --bvh clip.bvh on a 6-frame array: a different version from the plain run (what is
    written counts), holding video.gif (a GIF of 6 frames) and motion.bvh (its hierarchy first, 6 frames),
    copied byte for byte to the paths given."""
    workspace, source = tmp_path / "ws", tmp_path / "short.npy"
    checkpoint = publish_checkpoint(workspace)
    np.save(source, keypoints(6, 6))
    plain = lift_in_process(workspace, checkpoint, source)
    outputs = {"video": str(tmp_path / "out" / "clip.gif"), "bvh": str(tmp_path / "out" / "clip.bvh")}
    parameters = {"checkpoint": checkpoint, "keypoints": str(source), "outputs": outputs, "workspace": str(workspace),
                  "options": {"joint_order": "h36m17", "fps": 50.0, "image_size": SIZE}}  # fmt: skip
    version = run_in_process(lift, parameters)
    assert version != plain
    registry = Workspace(workspace)
    manifest = registry.get(version)
    video, bvh = registry.output_path(manifest, "video"), registry.output_path(manifest, "bvh")
    assert (video.name, bvh.name) == ("video.gif", "motion.bvh")
    assert (tmp_path / "out" / "clip.gif").read_bytes() == video.read_bytes()
    assert (tmp_path / "out" / "clip.bvh").read_bytes() == bvh.read_bytes()
    text = bvh.read_text()
    assert text.startswith("HIERARCHY") and "Frames: 6" in text
    from PIL import Image

    with Image.open(video) as image:
        assert image.n_frames == 6


def test_the_default_checkpoint_is_the_newest_finetune_started_from_pretraining(tmp_path):
    """pretrain-finetune publishes a finetune from a pretrain version, then one from scratch (newer): lift's
    default is the first, the demo's "pretrained + finetuned" route; with none from pretraining, the newest."""
    from pipelines.lift.flow import default_checkpoint

    registry = Workspace(tmp_path / "ws")
    pretrained = publish_in(registry, "pretrain", "pretrain")
    finetuned = publish_in(registry, "finetune", "pretrained + finetuned", (pretrained,))
    assert default_checkpoint(registry).id == finetuned
    publish_in(registry, "finetune", "from scratch")
    assert default_checkpoint(registry).id == finetuned
    other = Workspace(tmp_path / "other")
    newest = [publish_in(other, "finetune", tag) for tag in ("first", "second")][-1]
    assert default_checkpoint(other).id == newest


def publish_in(registry: Workspace, stage: str, tag: str, parents: tuple[str, ...] = ()) -> str:
    """A version of ``stage`` with a checkpoint_best file holding ``tag``, published in ``registry``."""
    run = StageRun(registry, stage, config={"tag": tag}, parents=parents)
    with run:
        path = Path(run.directory) / "checkpoint_best.pt"
        path.write_bytes(tag.encode())
        return run.publish(counts={}, outputs={"checkpoint_best": run.file_output(path)}).id
