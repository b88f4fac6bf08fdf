"""Cameras: golden projections derived by hand, round trips, and the published Human3.6M / HumanEva-I rigs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.camera_rigs import H36M_CAMERA_IDS, h36m_cameras, humaneva_cameras
from datasets.cameras import (
    Camera,
    camera_to_world,
    look_at_camera,
    pixels_to_normalized,
    project,
    unproject,
    world_to_camera,
)
from datasets.units import MILLIMETRES_PER_METRE

REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference"
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "datasets/data"
H36M_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
ALL_H36M = [camera for subject in H36M_SUBJECTS for camera in h36m_cameras(subject)]
FAST = settings(max_examples=60, deadline=None)


def simple_camera(*distortion: tuple[float, ...]) -> Camera:
    """fx = fy = 1000, principal point (500, 500), identity extrinsics; optional (radial, tangential)."""
    return Camera("simple", 1000.0, 1000.0, 500.0, 500.0, 1000, 1000, np.eye(3), np.zeros(3), *distortion)


def reference_json(name: str) -> dict:
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return json.loads(path.read_text())


def test_pinhole_projection_golden():
    """(0.1, -0.2, 2): x = 0.05, y = -0.1 -> (1000 * 0.05 + 500, 1000 * -0.1 + 500) = (550, 400)."""
    np.testing.assert_allclose(project(np.array([0.1, -0.2, 2.0]), simple_camera()), [550.0, 400.0])


def test_distorted_projection_golden():
    """k1 = 0.1, p1 = 0.01, point (0.2, 0.1, 1): x = 0.2, y = 0.1, r2 = 0.05, radial = 1.005,
    tangential = p1 x = 0.002, x_d = 0.2 * 1.007 + 0.01 * 0.05 = 0.2019, y_d = 0.1 * 1.007 = 0.1007
    -> pixels (701.9, 600.7). Undistorted (distort=False): (700, 600)."""
    camera = simple_camera((0.1, 0.0, 0.0), (0.01, 0.0))
    point = np.array([0.2, 0.1, 1.0])
    np.testing.assert_allclose(project(point, camera), [701.9, 600.7], rtol=1e-12)
    np.testing.assert_allclose(project(point, camera, distort=False), [700.0, 600.0], rtol=1e-12)


def test_distortion_golden_for_the_other_terms():
    """k = (0.1, 0.5, 2.0), point (0.2, 0.1, 1): r2 = 0.05, radial = 1 + 0.005 + 0.5 * 0.0025 + 2 * 0.000125
    = 1.0065 -> (0.2013, 0.10065) -> pixels (701.3, 600.65).
    p2 = 0.02, point (0.1, 0.3, 1): r2 = 0.1, tangential = p2 y = 0.006, x_d = 0.1 * 1.006 = 0.1006,
    y_d = 0.3 * 1.006 + 0.02 * 0.1 = 0.3038 -> pixels (600.6, 803.8)."""
    radial_only = simple_camera((0.1, 0.5, 2.0), (0.0, 0.0))
    np.testing.assert_allclose(project(np.array([0.2, 0.1, 1.0]), radial_only), [701.3, 600.65], rtol=1e-12)
    tangential_only = simple_camera((0.0, 0.0, 0.0), (0.0, 0.02))
    np.testing.assert_allclose(project(np.array([0.1, 0.3, 1.0]), tangential_only), [600.6, 803.8], rtol=1e-12)


def test_clamp_limits_normalized_coordinates_to_unit_range():
    """(3, -0.5, 1): x = 3 clamps to 1 -> u = 1500; y = -0.5 is inside -> v = 0. Unclamped u = 3500."""
    point = np.array([3.0, -0.5, 1.0])
    np.testing.assert_allclose(project(point, simple_camera()), [1500.0, 0.0])
    np.testing.assert_allclose(project(point, simple_camera(), clamp=False), [3500.0, 0.0])


def test_unproject_golden_inverts_the_distortion_case():
    camera = simple_camera((0.1, 0.0, 0.0), (0.01, 0.0))
    np.testing.assert_allclose(unproject(np.array([701.9, 600.7]), 1.0, camera), [0.2, 0.1, 1.0], atol=1e-12)


finite = st.floats(-5.0, 5.0, allow_nan=False)


@FAST
@given(camera=st.sampled_from(ALL_H36M), point=st.tuples(finite, finite, finite))
def test_world_camera_round_trip(camera, point):
    world = np.array(point)
    np.testing.assert_allclose(camera_to_world(world_to_camera(world, camera), camera), world, atol=1e-12)
    # Distances are preserved: extrinsics are rigid.
    distance_to_centre = np.linalg.norm(world - camera.center)
    np.testing.assert_allclose(np.linalg.norm(world_to_camera(world, camera)), distance_to_centre, atol=1e-12)


@FAST
@given(
    camera=st.sampled_from(ALL_H36M),
    u=st.floats(0.0, 1.0),
    v=st.floats(0.0, 1.0),
    depth=st.floats(0.5, 10.0),
)
def test_unproject_then_project_returns_the_pixel_anywhere_in_the_image(camera, u, v, depth):
    pixel = np.array([u * camera.width, v * camera.height])
    point = unproject(pixel, depth, camera)
    assert point[2] == pytest.approx(depth)
    np.testing.assert_allclose(project(point, camera), pixel, atol=1e-7)


@FAST
@given(
    camera=st.sampled_from(ALL_H36M),
    x=st.floats(-0.4, 0.4),
    y=st.floats(-0.4, 0.4),
    depth=st.floats(0.5, 10.0),
)
def test_project_then_unproject_with_depth_returns_the_point(camera, x, y, depth):
    point = np.array([x * depth, y * depth, depth])
    np.testing.assert_allclose(unproject(project(point, camera), depth, camera), point, atol=1e-9)


def normalized_to_pixels(normalized: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of ``pixels_to_normalized``, by hand.

    Solving ``x = u / w * 2 - 1`` and ``y = v / w * 2 - h / w`` for the pixel: ``u = (x + 1) w / 2``,
    ``v = (y + h / w) w / 2``.
    """
    return (normalized + np.array([1.0, height / width])) * width / 2.0


@FAST
@given(
    pixels=st.lists(st.tuples(finite, finite), min_size=1, max_size=4),
    size=st.sampled_from([(1000, 1002), (640, 480), (2048, 2048)]),
)
def test_normalized_round_trip(pixels, size):
    pixels = 200.0 * np.array(pixels)
    normalized = pixels_to_normalized(pixels, *size)
    np.testing.assert_allclose(normalized_to_pixels(normalized, *size), pixels, atol=1e-9)


def test_normalized_corners_and_centre():
    """1000 x 1002: x = u / 1000 * 2 - 1, y = v / 1000 * 2 - 1.002. Corners (0, 0) -> (-1, -1.002),
    (1000, 1002) -> (1, 1.002); the image centre (500, 501) -> (0, 0); (250, 1002) -> (-0.5, 1.002)."""
    pixels = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0], [250.0, 1002.0]])
    expected = [[-1.0, -1.002], [1.0, 1.002], [0.0, 0.0], [-0.5, 1.002]]
    np.testing.assert_allclose(pixels_to_normalized(pixels, 1000, 1002), expected, atol=1e-15)


def test_numpy_and_torch_agree_in_float64_and_keep_dtype():
    camera = h36m_cameras("S9")[2]
    rng = np.random.default_rng(0)
    world = rng.normal(scale=0.5, size=(4, 17, 3)) + np.array([0.0, 0.0, 1.0])
    tensor = torch.from_numpy(world)
    camera_np, camera_t = world_to_camera(world, camera), world_to_camera(tensor, camera)
    np.testing.assert_allclose(camera_t.numpy(), camera_np, rtol=1e-12)
    pixels_np, pixels_t = project(camera_np, camera), project(camera_t, camera)
    np.testing.assert_allclose(pixels_t.numpy(), pixels_np, rtol=1e-12)
    depth = camera_np[..., 2]
    back_t = unproject(pixels_t, torch.from_numpy(depth), camera)
    np.testing.assert_allclose(back_t.numpy(), unproject(pixels_np, depth, camera), rtol=1e-12)
    np.testing.assert_allclose(back_t.numpy(), camera_np, atol=1e-9)
    np.testing.assert_allclose(
        pixels_to_normalized(pixels_t, 1000, 1002).numpy(), pixels_to_normalized(pixels_np, 1000, 1002)
    )
    assert project(camera_t.float(), camera).dtype == torch.float32
    assert camera_to_world(camera_np.astype(np.float32), camera).dtype == np.float32


def test_h36m_subject_is_in_front_of_and_inside_every_camera():
    """A point 1 m above the world origin (where subjects act) projects into every image, 4-7 m away."""
    for subject in H36M_SUBJECTS:
        cameras = h36m_cameras(subject)
        assert [c.name for c in cameras] == list(H36M_CAMERA_IDS)
        for camera in cameras:
            point = world_to_camera(np.array([0.0, 0.0, 1.0]), camera)
            assert 4.0 < point[2] < 7.0
            u, v = project(point, camera)
            assert 0 < u < camera.width and 0 < v < camera.height
            assert 1.4 < camera.center[2] < 1.7  # camera heights (docs/formats.md 1.1: z ~ 1.5 m)


def test_h36m_extrinsics_follow_the_quaternion_convention():
    """Independent oracle (docs/formats.md 1.5): X_world = q X_cam q* + C with q = (w, u) applied to v as
    v + 2 (w (u x v) + u x (u x v)); centre C = translation_mm / 1000."""
    data = json.loads((PACKAGE_DATA / "h36m_cameras.json").read_text())
    rng = np.random.default_rng(1)
    for subject in H36M_SUBJECTS:
        for camera in h36m_cameras(subject):
            entry = data["extrinsics"][subject][camera.name]
            w, u = entry["orientation_wxyz"][0], np.array(entry["orientation_wxyz"][1:])
            centre = np.array(entry["centre_mm"]) / MILLIMETRES_PER_METRE
            np.testing.assert_allclose(camera.center, centre, atol=1e-12)
            v = rng.normal(size=3)
            rotated = v + 2.0 * (w * np.cross(u, v) + np.cross(u, np.cross(u, v)))
            np.testing.assert_allclose(camera_to_world(v, camera), rotated + centre, atol=1e-6)


def test_h36m_videopose3d_normalized_intrinsics_match_the_reference():
    """The reference vector was computed in float32, hence the float32-sized tolerance."""
    derived = reference_json("h36m_cameras.json")["derived_videopose3d_normalized"]
    for camera in h36m_cameras("S1"):
        expected = derived[camera.name]["intrinsic9"]
        np.testing.assert_allclose(camera.videopose3d_intrinsics(), expected, rtol=1e-6, atol=2e-7)


@pytest.mark.parametrize("name", ["h36m_cameras.json", "humaneva_cameras.json"])
def test_package_camera_numbers_equal_the_reference(name):
    reference, ours = reference_json(name), json.loads((PACKAGE_DATA / name).read_text())
    for camera_id, ours_intrinsics in ours["intrinsics"].items():
        theirs = reference["intrinsics"][camera_id]
        assert ours_intrinsics["image_size"] == [theirs["res_w"], theirs["res_h"]]
        for key in ("focal_length", "center", "radial_distortion", "tangential_distortion"):
            assert ours_intrinsics.get(key) == theirs.get(key)
    subjects = {s for s, cameras in reference["extrinsics"].items() if cameras is not None}
    assert set(ours["extrinsics"]) == subjects
    for subject in subjects:
        for camera_id, entry in ours["extrinsics"][subject].items():
            theirs = reference["extrinsics"][subject][camera_id]
            assert entry == {"orientation_wxyz": theirs["orientation"], "centre_mm": theirs["translation_mm"]}


def test_unknown_subjects_name_the_known_ones():
    with pytest.raises(KeyError, match="'S2' has no camera extrinsics; those with: S1, S5, S6, S7, S8, S9, S11"):
        h36m_cameras("S2")
    with pytest.raises(KeyError, match="HumanEva-I subject 'S4'.*S1, S2, S3"):
        humaneva_cameras("S4")


def test_humaneva_cameras_have_exact_extrinsics_and_no_intrinsics():
    for subject in ("S1", "S2", "S3"):
        for camera in humaneva_cameras(subject):
            assert not camera.has_intrinsics
            assert (camera.width, camera.height) == (640, 480)
            assert world_to_camera(np.array([0.0, 0.0, 1.0]), camera)[2] > 3.0
            with pytest.raises(ValueError, match="has no intrinsics"):
                project(np.array([0.0, 0.0, 1.0]), camera)
    # S1 and S3 carry the same cameras up to printed digits (docs/formats.md 3.6).
    for first, third in zip(humaneva_cameras("S1"), humaneva_cameras("S3"), strict=True):
        np.testing.assert_allclose(first.center, third.center, atol=1e-6)
    np.testing.assert_allclose(humaneva_cameras("S1")[0].center, [4.062227, 0.6632477, 1.528397], atol=1e-12)


def test_look_at_camera_points_its_axis_at_the_target_with_world_up_upward():
    camera = look_at_camera(
        "virtual_0", (3.0, -4.0, 1.5), (0.0, 0.0, 1.0), fx=1000.0, fy=1000.0, cx=500.0, cy=500.0,
        width=1000, height=1000,
    )  # fmt: skip
    np.testing.assert_allclose(camera.center, [3.0, -4.0, 1.5], atol=1e-12)
    target = world_to_camera(np.array([0.0, 0.0, 1.0]), camera)
    np.testing.assert_allclose(target[:2], [0.0, 0.0], atol=1e-12)
    assert target[2] == pytest.approx(np.sqrt(9.0 + 16.0 + 0.25))
    head, feet = (project(world_to_camera(np.array([0.0, 0.0, z]), camera), camera) for z in (2.0, 0.0))
    assert head[1] < 500.0 < feet[1]  # image v grows downwards
    with pytest.raises(ValueError, match="parallel to up_world"):
        look_at_camera("v", (0, 0, 5), (0, 0, 0), fx=1, fy=1, cx=0, cy=0, width=1, height=1)


def test_index_row_round_trip_through_arrow():
    """Index rows survive a Parquet/Arrow table: lists come back as lists, ints as ints."""
    for camera in [*h36m_cameras("S11"), *humaneva_cameras("S2")]:
        row = pa.Table.from_pylist([camera.to_index_row()]).to_pylist()[0]
        assert set(row) == {"fx", "fy", "cx", "cy", "k", "p", "R", "t", "width", "height"}
        rebuilt = Camera.from_index_row(row, name=camera.name)
        assert rebuilt == camera
        assert hash(rebuilt) == hash(camera)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fx": 0.0}, "fx, fy > 0"),
        ({"cx": float("nan")}, "or all NaN"),
        ({"width": 0}, "positive integers"),
        ({"rotation": 2.0 * np.eye(3)}, "orthonormal"),
        ({"rotation": np.diag([1.0, 1.0, -1.0])}, "det > 0"),
        ({"translation": np.zeros(2)}, "finite"),
        ({"radial": (0.1, 0.2)}, "3 radial and 2 tangential"),
    ],
)
def test_invalid_cameras_are_rejected(changes, message):
    arguments = {
        "name": "bad", "fx": 1.0, "fy": 1.0, "cx": 0.0, "cy": 0.0, "width": 10, "height": 10,
        "rotation": np.eye(3), "translation": np.zeros(3),
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        Camera(**(arguments | changes))


def test_cameras_are_immutable():
    camera = h36m_cameras("S1")[0]
    with pytest.raises(ValueError, match="read-only"):
        camera.rotation[0, 0] = 2.0
    with pytest.raises(AttributeError):
        camera.fx = 1.0  # type: ignore[misc]
