"""``python flows.py view``: store and evaluation versions resolve to the right views; videos have every frame."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from conftest import simple_camera, synthetic_views
from PIL import Image
from typer.testing import CliRunner

from datasets.skeletons import get_skeleton
from datasets.store import open_store, write_store
from lifting.evaluation import save_predictions
from lifting.visualization import build_scenes
from lifting.visualization.video import write_video
from pipelines.cli import app
from pipelines.lineage.versioning import StageRun

SKELETON = get_skeleton("h36m17")
FRAMES = 6


def _publish(workspace, stage, config, parents=(), outputs=None):
    run = StageRun(workspace, stage, config=config, parents=list(parents))
    with run:
        return run.publish(counts={}, outputs=outputs(run) if outputs else {}, summary=stage)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A store version (sequence "walk" in cameras a and b, then "sit" in camera a), a checkpoint version trained
    on keypoints_2d_cpn, and an evaluation of it that saved predictions for the two "walk" views only."""
    root = tmp_path_factory.mktemp("workspace")
    views = [
        dataclasses.replace(view, sequence=sequence, subject="S9", camera=simple_camera(camera), split="test")
        for view, (sequence, camera) in zip(
            synthetic_views([FRAMES] * 3, detections=["cpn"]), [("walk", "a"), ("walk", "b"), ("sit", "a")], strict=True
        )
    ]

    def store_output(run):
        snapshot = write_store(run.directory / "store", views, "h36m17", SKELETON.joint_names)
        return {"store": run.store_output(run.directory / "store", snapshot)}

    store = _publish(root, "preprocess-test", {"n": 1}, outputs=store_output)
    checkpoint = _publish(root, "finetune", {"training": {"window": {"keypoints": "keypoints_2d_cpn"}}}, [store.id])
    truth = {view_id: open_store(root, store.id).read("joints_3d", view_id) for view_id in (0, 1)}

    def prediction_output(run):
        path = run.directory / "predictions.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_predictions(path, {v: joints + 0.01 for v, joints in truth.items()}, {0: 0.01, 1: 0.01})
        return {"predictions": run.file_output(path)}

    _publish(root, "evaluate", {"split": "test", "keypoints": None}, [checkpoint.id, store.id], prediction_output)
    return root


def _payload(path):
    text = path.read_text()
    return json.loads(re.search(r'<script id="scene-data" type="application/json">(.*?)</script>', text, re.S)[1])


def _view(workspace, tmp_path, *arguments):
    result = CliRunner().invoke(app, ["view", *arguments, "--workspace", str(workspace)], catch_exceptions=False)
    return result


def test_view_a_store_version_shows_the_first_sequence_in_both_cameras(workspace, tmp_path):
    out = tmp_path / "store.html"
    result = _view(workspace, tmp_path, "preprocess-test", "--out", str(out))
    assert result.exit_code == 0, result.output
    payload = _payload(out)
    assert [view["id"] for view in payload["views"]] == [0, 1]
    assert payload["keypointsName"] == "keypoints_2d" and payload["views"][0]["prediction"] is None


def test_view_an_evaluation_overlays_its_predictions_on_the_models_input(workspace, tmp_path):
    out = tmp_path / "evaluation.html"
    result = _view(workspace, tmp_path, "evaluate", "--camera", "b", "--out", str(out))
    assert result.exit_code == 0, result.output
    payload = _payload(out)
    assert [view["id"] for view in payload["views"]] == [1]
    assert payload["keypointsName"] == "keypoints_2d_cpn"  # the checkpoint's training input
    assert payload["views"][0]["prediction"] is not None


def test_view_refuses_views_without_predictions_and_bad_options(workspace, tmp_path):
    result = _view(workspace, tmp_path, "evaluate", "--view-id", "2", "--out", str(tmp_path / "x.html"))
    assert result.exit_code == 1 and "no predictions" in result.output
    result = _view(workspace, tmp_path, "preprocess-test", "--video", str(tmp_path / "x.avi"))
    assert result.exit_code == 2 and ".mp4 or .gif" in result.output


def test_gif_has_one_image_per_frame(workspace, tmp_path):
    """Six frames at the views' 50 fps: six images of 20 ms."""
    scenes = build_scenes(open_store(workspace, "preprocess-test"), [0, 1])
    path = write_video(tmp_path / "clip.gif", scenes, progress=False)
    with Image.open(path) as image:
        assert image.n_frames == FRAMES and image.info["duration"] == 20


def test_mp4_has_every_frame_and_the_duration(workspace, tmp_path):
    """Six frames at 50 fps: 0.12 s, counted by ffmpeg decoding the file."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="MP4 needs imageio-ffmpeg's ffmpeg binary")
    scenes = build_scenes(open_store(workspace, "preprocess-test"), [0])
    path = write_video(tmp_path / "clip.mp4", scenes, progress=False)
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert frames == FRAMES and seconds == pytest.approx(FRAMES / 50.0, abs=0.02)
