"""The viewer's scene numbers, view selection, saved predictions and the HTML payload, against hand values."""

from __future__ import annotations

import base64
import dataclasses
import json
import re

import numpy as np
import pytest
from conftest import simple_camera, synthetic_views

from datasets.cameras import Camera
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from lifting.evaluation import EvaluationConfig, evaluate_predictions, load_predictions, save_predictions
from lifting.visualization import (
    build_scenes,
    display_rotation,
    extreme_sequences,
    frustum_segments,
    scene_payload,
    select_views,
    write_viewer,
)
from lifting.visualization.scene import viewpoint

SKELETON = get_skeleton("h36m17")
LEFT_WRIST = SKELETON.index("left_wrist")
SPECS = [  # (subject, sequence, camera, split, frames)
    ("S9", "Walking 1", "cam_a", "test", 12),
    ("S9", "Walking 1", "cam_b", "test", 12),
    ("S9", "Eating", "cam_a", "test", 8),
    ("S1", "Walking", "cam_a", "train", 10),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> PoseStore:
    """Four views in front of ``simple_camera``; view 2's frame 3 has its left wrist behind the camera."""
    views = []
    for view, (subject, sequence, camera, split, _) in zip(synthetic_views([s[4] for s in SPECS]), SPECS, strict=True):
        action = sequence.split()[0]
        views.append(dataclasses.replace(view, dataset="h36m", subject=subject, action=action, sequence=sequence,
                                         split=split, camera=simple_camera(camera)))  # fmt: skip
    views[2].joints_3d[3, LEFT_WRIST, 2] = -0.5
    directory = tmp_path_factory.mktemp("viewer") / "store"
    write_store(directory, views, "h36m17", SKELETON.joint_names)
    return PoseStore(directory)


def test_display_rotation_puts_the_image_up_direction_on_plus_z():
    """simple_camera lives in a z-up world: identity. A camera whose frame is the world (MPI-INF-3DHP training)
    has image-up -y, so the rows are (e_2, -e_0, -e_1) and the camera point (0, -1, 0) goes to (0, 0, 1)."""
    np.testing.assert_array_equal(display_rotation(simple_camera()), np.eye(3))
    identity = Camera("0", float("nan"), float("nan"), float("nan"), float("nan"), 2048, 2048, np.eye(3), np.zeros(3))
    rotation = display_rotation(identity)
    np.testing.assert_array_equal(rotation, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    np.testing.assert_array_equal(rotation @ [0.0, -1.0, 0.0], [0.0, 0.0, 1.0])
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_frustum_corners_by_hand():
    """simple_camera: centre -R^T t = (0, -4, 1). The image's top-left pixel (0, 0) at depth 0.4 m is camera
    point ((0 - 500) / 1000 * 0.4, same, 0.4) = (-0.2, -0.2, 0.4); in the world R^T (p - t) = (-0.2, -3.6, 1.2):
    0.4 m ahead along +y, 0.2 m left and 0.2 m above the optical axis."""
    segments = frustum_segments(simple_camera(), depth=0.4)
    assert segments.shape == (8, 2, 3)
    np.testing.assert_allclose(segments[:4, 0], np.tile([0.0, -4.0, 1.0], (4, 1)), atol=1e-6)
    np.testing.assert_allclose(segments[0, 1], [-0.2, -3.6, 1.2], atol=1e-6)
    np.testing.assert_allclose(segments[2, 1], [0.2, -3.6, 0.8], atol=1e-6)  # bottom-right pixel (1000, 1000)
    np.testing.assert_allclose(segments[4:, 0], segments[:4, 1], atol=1e-6)  # the rectangle joins the corners


def test_scene_errors_and_placement_of_a_known_prediction(store):
    """Prediction = truth with the left wrist 50 mm off along camera x and the whole pose shifted by 1 m (the
    scene re-centres it on the truth's root): that joint's error is 50 mm, the others 0, MPJPE 50 / 17 mm; in
    the display frame (the z-up world here) the wrist sits 0.05 m further along +x."""
    truth = store.read("joints_3d", 0)
    predicted = truth.copy()
    predicted[:, LEFT_WRIST, 0] += 0.05
    (scene,) = build_scenes(store, [0], {0: predicted + 1.0})
    expected = np.zeros((12, 17))
    expected[:, LEFT_WRIST] = 50.0
    np.testing.assert_allclose(scene.joint_error_mm, expected, atol=2e-3)
    np.testing.assert_allclose(scene.frame_mpjpe_mm, np.full(12, 50.0 / 17), atol=2e-3)  # float32 at 4-5 m
    offset = scene.prediction - scene.truth
    np.testing.assert_allclose(offset[:, LEFT_WRIST], np.tile([0.05, 0.0, 0.0], (12, 1)), atol=1e-5)
    others = np.delete(offset, LEFT_WRIST, axis=1)
    np.testing.assert_allclose(others, 0.0, atol=1e-5)
    unmoved = np.delete(scene.reprojection - scene.keypoints, LEFT_WRIST, axis=1)  # keypoints are exact projections
    np.testing.assert_allclose(unmoved, 0.0, atol=1e-2)


def test_out_of_frame_marks_the_frame_with_a_joint_behind_the_camera(store):
    (scene,) = build_scenes(store, [2])
    assert np.flatnonzero(scene.out_of_frame).tolist() == [3]


def test_clip_keeps_the_frames_asked_for(store):
    (scene,) = build_scenes(store, [2])
    clipped = scene.clip(2, 3)
    assert clipped.frames == 3 and np.flatnonzero(clipped.out_of_frame).tolist() == [1]
    np.testing.assert_array_equal(clipped.keypoints, scene.keypoints[2:5])
    with pytest.raises(ValueError, match="cannot clip"):
        scene.clip(8)


def test_select_views_by_filters_ids_and_predictions(store):
    assert select_views(store) == [0, 1]  # the first sequence, both cameras
    assert select_views(store, subject="S9", action="Eating") == [2]
    assert select_views(store, camera="cam_a") == [0]
    assert select_views(store, action="Walking", among={3}) == [3]
    assert select_views(store, [3, 1]) == [3, 1]
    with pytest.raises(ValueError, match="not both"):
        select_views(store, [0], subject="S9")
    with pytest.raises(ValueError, match="no predictions"):
        select_views(store, [3], among={0, 1})
    with pytest.raises(ValueError, match="subject='S5'"):
        select_views(store, subject="S5")


def test_extreme_sequences_average_their_views(store):
    """Walking 1 = mean(0.04, 0.06) = 0.05, Eating 0.03, S1 Walking NaN (ignored): worst Walking 1, best Eating."""
    chosen = extreme_sequences(store, {0: 0.04, 1: 0.06, 2: 0.03, 3: float("nan")})
    assert chosen == {"worst": [0, 1], "best": [2]}
    assert extreme_sequences(store, {3: float("nan")}) == {}


def test_viewpoint_by_hand(store):
    """The orbit centre is the root's mean; the first look comes from 45 degrees beside the camera, which sits
    at (0, -4) on the ground plane from a centre near (0, 0): azimuth atan2(-4 - c_y, 0 - c_x) + pi / 4."""
    (scene,) = build_scenes(store, [0])
    view = viewpoint(scene, [scene], SKELETON.root)
    centre = scene.truth[:, SKELETON.root].mean(axis=0)
    np.testing.assert_allclose(view.centre, centre, atol=1e-6)
    assert view.azimuth == pytest.approx(np.arctan2(-4.0 - centre[1], -centre[0]) + np.pi / 4)
    assert view.ground == pytest.approx(float(scene.truth[..., 2].min()))
    assert view.scene_radius >= np.linalg.norm(np.array([0.0, -4.0, 1.0]) - centre)


def test_predictions_round_trip(tmp_path):
    predictions = {5: np.ones((3, 17, 3), np.float32), 2: np.zeros((4, 17, 3), np.float32)}
    path = save_predictions(tmp_path / "predictions.npz", predictions, {5: 0.01, 2: float("nan")})
    loaded, mpjpe = load_predictions(path)
    assert list(loaded) == [5, 2]
    for view_id, values in predictions.items():
        np.testing.assert_array_equal(loaded[view_id], values)
    assert mpjpe[5] == 0.01 and np.isnan(mpjpe[2])


def test_payload_round_trips_and_the_page_needs_no_network(store, tmp_path):
    scenes = build_scenes(store, [0, 1])
    payload = scene_payload(scenes, "keypoints_2d", SKELETON.root)
    truth = np.frombuffer(base64.b64decode(payload["views"][1]["truth"]), dtype="<f4").reshape(12, 17, 3)
    np.testing.assert_array_equal(truth, scenes[1].truth)
    assert payload["views"][0]["prediction"] is None
    page = write_viewer(tmp_path / "view.html", scenes, "S9 </script> Walking").read_text()
    assert not re.search(r"(src|href)\s*=|https?://|@import", page)
    data = re.search(r'<script id="scene-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["views"][0]["id"] == 0
    with pytest.raises(ValueError, match="fit"):
        scene_payload(scenes, "keypoints_2d", 0, fit="everything")


def test_evaluation_saves_predictions_and_links_worst_and_best_viewers(store, tmp_path):
    """Test views 0, 1 (Walking 1) get 30 mm on every joint but the root, view 2 (Eating) 10 mm: worst Walking 1
    (two cameras), best Eating; MPJPE per view = 16 / 17 of the offset."""
    predictions = {}
    for view_id, offset in ((0, 0.03), (1, 0.03), (2, 0.01)):
        predicted = store.read("joints_3d", view_id).copy()
        predicted[:, 1:, 0] += offset
        predictions[view_id] = predicted
    result = evaluate_predictions(store, predictions, EvaluationConfig(split="test", protocol="h36m"), tmp_path)
    loaded, view_mpjpe = load_predictions(result.predictions_path)
    np.testing.assert_array_equal(loaded[2], predictions[2])
    assert view_mpjpe[0] == pytest.approx(0.03 * 16 / 17, abs=1e-6)
    assert view_mpjpe[2] == pytest.approx(0.01 * 16 / 17, abs=1e-6)
    assert [path.name for path in result.viewers] == ["viewer_worst.html", "viewer_best.html"]
    worst = result.viewers[0].read_text()
    assert worst.count('"sequence":"h36m/unit/S9/Walking 1"') == 2
    report = result.report_path.read_text()
    assert f"[worst sequence](viewer_worst.html): h36m unit S9 Walking 1, MPJPE {30 * 16 / 17:.1f} mm" in report
    assert f"[best sequence](viewer_best.html): h36m unit S9 Eating, MPJPE {10 * 16 / 17:.1f} mm" in report
