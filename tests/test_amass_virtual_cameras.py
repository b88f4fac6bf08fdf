"""World placement, seeded virtual cameras, projection and the out-of-frame ratio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.amass.config import H36M_CAMERA_DISTANCE_RANGE, AmassConfig
from datasets.amass.virtual_cameras import (
    AMASS_TO_H36M_ROTATION,
    file_rng,
    film,
    place_in_h36m_world,
    random_cameras,
    sequence_cameras,
)
from datasets.camera_rigs import h36m_cameras
from datasets.cameras import Camera, out_of_frame_ratio, project, world_to_camera

CONFIG = AmassConfig(amass_root=Path("."), body_models=Path("."))


def _standing(frames: int = 5, start=(3.0, -2.0)) -> np.ndarray:
    """(T, 17, 3): a 1.7 m vertical stick figure walking +x at 1 m/s (50 Hz), pelvis at 0.9 m."""
    heights = np.linspace(0.05, 1.7, 17)
    joints = np.zeros((frames, 17, 3))
    joints[:, :, 2] = heights
    joints[:, 0, 2] = 0.9
    joints[:, :, 0] = start[0] + np.arange(frames)[:, None] / 50.0
    joints[:, :, 1] = start[1]
    return joints


def test_placements_keep_the_recorded_position_or_move_the_start_pelvis_over_the_origin():
    """AMASS and H36M worlds are both z-up, floor z = 0: identity rotation; at most a horizontal shift.

    ``_standing`` starts its pelvis at (3, -2, 0.9): "as_recorded" keeps it there, "start_at_origin" shifts every
    joint of every frame by (-3, 2, 0).
    """
    np.testing.assert_array_equal(AMASS_TO_H36M_ROTATION, np.eye(3))
    joints = _standing()
    np.testing.assert_array_equal(place_in_h36m_world(joints, "as_recorded"), joints)
    placed = place_in_h36m_world(joints, "start_at_origin")
    np.testing.assert_allclose(placed[0, 0], [0.0, 0.0, 0.9])
    np.testing.assert_allclose(placed - joints, np.broadcast_to([-3.0, 2.0, 0.0], joints.shape))
    with pytest.raises(ValueError, match="placement must be one of"):
        place_in_h36m_world(joints, "centre")


def test_h36m_mode_uses_the_subjects_four_cameras_and_sees_a_person_at_the_origin():
    placed = place_in_h36m_world(_standing(), "start_at_origin")
    cameras = sequence_cameras(CONFIG, "CMU/01/01_01_poses.npz", placed)
    assert cameras == h36m_cameras("S1")
    for camera in cameras:
        _, keypoints, ratio = film(placed, camera)
        assert ratio == 0.0
        assert (keypoints[..., 0] > 0).all() and (keypoints[..., 0] < camera.width).all()


def test_random_cameras_are_seeded_per_file_and_respect_the_ranges():
    config = AmassConfig(amass_root=Path("."), body_models=Path("."), cameras="random:6", seed=7,
                         camera_distance_range=(3.0, 4.0), camera_height_range=(1.0, 2.0))  # fmt: skip
    placed = place_in_h36m_world(_standing(), "start_at_origin")
    first = sequence_cameras(config, "KIT/3/a_poses.npz", placed)
    assert first == sequence_cameras(config, "KIT/3/a_poses.npz", placed)
    assert first != sequence_cameras(config, "KIT/3/b_poses.npz", placed)
    assert [camera.name for camera in first] == [f"random_{k}" for k in range(6)]
    intrinsics = {(c.fx, c.fy, c.cx, c.cy, c.width, c.height, c.radial) for c in h36m_cameras("S1")}
    target = np.array([0.0, 0.0, 0.9])
    for camera in first:
        centre = camera.center
        assert 3.0 <= np.hypot(*(centre - target)[:2]) <= 4.0 and 1.0 <= centre[2] <= 2.0
        assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height, camera.radial) in intrinsics
        # The target lies on the optical axis, so it projects to the principal point (no distortion at r = 0).
        pixel = project(world_to_camera(target, camera), camera)
        np.testing.assert_allclose(pixel, [camera.cx, camera.cy], atol=1e-6)


def test_file_rng_is_stable_and_depends_on_path_and_seed():
    assert file_rng("a.npz", 0).integers(1 << 30) == file_rng("a.npz", 0).integers(1 << 30)
    values = {file_rng(path, seed).integers(1 << 30) for path in ("a.npz", "b.npz") for seed in (0, 1)}
    assert len(values) == 4


def test_out_of_frame_ratio_golden():
    """2 frames x 2 joints seen by a 100 x 100 camera: one point behind (Z = -1), one projected at
    x = 150 > width, two inside -> 2 / 4 = 0.5."""
    camera = Camera("c", 100.0, 100.0, 50.0, 50.0, 100, 100, np.eye(3), np.zeros(3))
    points = np.array([[[0.0, 0.0, 2.0], [0.0, 0.0, -1.0]], [[0.2, 0.2, 2.0], [1.0, 0.0, 1.0]]])
    pixels = project(points, camera, clamp=False)
    assert pixels[1, 1, 0] == 150.0
    assert out_of_frame_ratio(points, pixels, camera) == 0.5
    assert out_of_frame_ratio(np.zeros((0, 17, 3)), np.zeros((0, 17, 2)), camera) == 0.0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), frames=st.integers(1, 20))
def test_film_reprojects_its_own_joints(seed, frames):
    """keypoints_2d is the projection of exactly the stored float32 joints_3d: reprojecting matches to
    far below 1e-3 px, for any random camera."""
    rng = np.random.default_rng(seed)
    placed = place_in_h36m_world(_standing(frames) + rng.normal(0, 0.05, (frames, 17, 3)), "start_at_origin")
    (camera,) = random_cameras(1, rng, placed[0, 0], (4.0, 5.6), (1.4, 1.7), (-180.0, 180.0), h36m_cameras("S1"))
    joints_3d, keypoints_2d, ratio = film(placed, camera)
    assert joints_3d.dtype == keypoints_2d.dtype == np.float32
    np.testing.assert_allclose(project(joints_3d.astype(np.float64), camera), keypoints_2d, atol=1e-3, rtol=0)
    np.testing.assert_allclose(world_to_camera(placed, camera), joints_3d, atol=1e-5)
    assert 0.0 <= ratio <= 1.0


def test_a_subject_behind_the_camera_is_out_of_frame():
    camera = h36m_cameras("S1")[0]
    behind = camera.center - 2.0 * camera.rotation[2]  # 2 m behind, along the optical axis
    joints = np.broadcast_to(behind, (3, 17, 3)).copy()
    _, _, ratio = film(joints, camera)
    assert ratio == pytest.approx(1.0)


def test_random_cameras_aim_at_the_recorded_start_pelvis_when_the_sequence_is_not_moved():
    """Under "as_recorded" the ring is centred on the pelvis's start (3, -2, 0.9), which projects to the centre."""
    config = AmassConfig(amass_root=Path("."), body_models=Path("."), cameras="random:3", placement="as_recorded")
    placed = place_in_h36m_world(_standing(), "as_recorded")
    target = np.array([3.0, -2.0, 0.9])
    for camera in sequence_cameras(config, "KIT/3/a_poses.npz", placed):
        assert H36M_CAMERA_DISTANCE_RANGE[0] <= np.hypot(*(camera.center - target)[:2]) <= H36M_CAMERA_DISTANCE_RANGE[1]
        np.testing.assert_allclose(project(world_to_camera(target, camera), camera), [camera.cx, camera.cy], atol=1e-6)
