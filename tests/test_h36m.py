"""Human3.6M reader on synthetic trees in the real formats (VideoPose3D npz and original CDF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixture_archives import write_h36m_cdf

from datasets.camera_rigs import h36m_cameras
from datasets.h36m import detect_format, normalise_sequence, read_h36m
from datasets.skeletons import convert_joints
from datasets.synthetic.h36m_archive import (
    H36MArchiveSpec,
    synthetic_world_poses,
    write_videopose3d_h36m,
)

SMALL = H36MArchiveSpec(subjects=("S1", "S9"), sequences=("Photo", "Walking 1"), frames=20)


def _load(path: Path, key: str) -> dict:
    with np.load(path, allow_pickle=True) as archive:  # VideoPose3D's own (third-party) format
        return archive[key].item()


def _save(path: Path, **content: object) -> None:
    np.savez_compressed(path, **content)


def _distorted_projection(points_camera: np.ndarray, camera) -> np.ndarray:
    """docs/formats.md 1.5 written out independently of datasets.cameras (the clamp never binds here)."""
    x, y = points_camera[..., 0] / points_camera[..., 2], points_camera[..., 1] / points_camera[..., 2]
    (k1, k2, k3), (p1, p2) = camera.radial, camera.tangential
    r2 = x**2 + y**2
    factor = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3 + p1 * x + p2 * y
    u = camera.fx * (x * factor + p1 * r2) + camera.cx
    v = camera.fy * (y * factor + p2 * r2) + camera.cy
    return np.stack([u, v], axis=-1)


@pytest.fixture(scope="module")
def npz_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("h36m_npz")
    write_videopose3d_h36m(root)
    return root


def test_normalise_sequence_renames_s1_names_and_keeps_repeats():
    assert normalise_sequence("TakingPhoto 1") == ("Photo 1", "Photo")
    assert normalise_sequence("WalkingDog") == ("WalkDog", "WalkDog")
    assert normalise_sequence("Walking 1") == ("Walking 1", "Walking")
    assert normalise_sequence("WalkTogether 2") == ("WalkTogether 2", "WalkTogether")


def test_one_view_per_sequence_and_camera_with_the_protocol_split(npz_tree: Path):
    result = read_h36m(npz_tree)
    spec = H36MArchiveSpec()
    assert result.rejected == [] and result.skeleton == "h36m17"
    keys = [(v.subject, v.sequence, v.camera.name) for v in result.views]
    assert len(keys) == len(set(keys)) == len(spec.subjects) * len(spec.sequences) * 4
    assert {v.subject: v.split for v in result.views} == {"S1": "train", "S5": "train", "S9": "test"}
    assert {v.fps for v in result.views} == {50.0}
    assert {(v.sequence, v.action) for v in result.views} >= {("Directions 1", "Directions"), ("WalkDog 1", "WalkDog")}


def test_joints_are_the_source_seen_by_each_camera_and_2d_their_distorted_projection(npz_tree: Path):
    world = _load(npz_tree / "data_3d_h36m.npz", "positions_3d")
    result = read_h36m(npz_tree)
    for view in result.views:
        source = convert_joints(world[view.subject][view.sequence].astype(np.float64), "h36m32", "h36m17")
        camera = h36m_cameras(view.subject)[[c.name for c in h36m_cameras(view.subject)].index(view.camera.name)]
        expected = source @ camera.rotation.T + camera.translation
        assert view.joints_3d.dtype == np.float32 and view.joints_3d.shape == (len(source), 17, 3)
        np.testing.assert_allclose(view.joints_3d, expected, atol=1e-5)
        np.testing.assert_allclose(view.keypoints_2d, _distorted_projection(expected, camera), atol=1e-3)


def test_a_joint_at_the_camera_centre_is_the_origin_and_one_metre_ahead_is_unit_depth(tmp_path: Path):
    """X_cam = R (X_w - c): X_w = c gives 0; X_w = c + R[2] (the optical axis) gives (0, 0, 1)."""
    camera = h36m_cameras("S9")[2]
    poses = np.zeros((3, 32, 3))
    poses[:, 0] = camera.center
    poses[:, 1] = camera.center + camera.rotation[2]
    _save(tmp_path / "data_3d_h36m.npz", positions_3d={"S9": {"Posing": poses.astype(np.float32)}})
    view = read_h36m(tmp_path).views[2]
    assert view.camera.name == camera.name
    np.testing.assert_allclose(view.joints_3d[:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(view.joints_3d[:, 1], [[0.0, 0.0, 1.0]] * 3, atol=1e-6)
    np.testing.assert_allclose(view.keypoints_2d[:, 1], [[camera.cx, camera.cy]] * 3, atol=1e-3)


def test_cdf_tree_reads_like_the_npz_tree_and_renames_s1_files(tmp_path: Path):
    write_h36m_cdf(tmp_path / "cdf", SMALL)
    write_videopose3d_h36m(tmp_path / "npz", SMALL, detections=())
    assert (tmp_path / "cdf/S1/MyPoseFeatures/D3_Positions/TakingPhoto.cdf").is_file()
    assert detect_format(tmp_path / "cdf") == "cdf"
    from_cdf, from_npz = read_h36m(tmp_path / "cdf"), read_h36m(tmp_path / "npz")
    assert from_cdf.rejected == []
    assert [v.describe() for v in from_cdf.views] == [v.describe() for v in from_npz.views]
    for a, b in zip(from_cdf.views, from_npz.views, strict=True):
        np.testing.assert_allclose(a.joints_3d, b.joints_3d, atol=1e-6)  # float32 mm -> m rounding
    assert "gt" in from_npz.views[0].extra_keypoints  # data_2d_h36m_gt.npz is read like any 2D file
    np.testing.assert_allclose(from_npz.views[0].extra_keypoints["gt"], from_npz.views[0].keypoints_2d, atol=1e-3)


def test_longer_detections_are_trimmed_with_a_note(npz_tree: Path):
    detections = _load(npz_tree / "data_2d_h36m_cpn_ft_h36m_dbb.npz", "positions_2d")
    result = read_h36m(npz_tree)
    view = next(v for v in result.views if (v.subject, v.sequence, v.camera.name) == ("S9", "Photo", "58860488"))
    source = detections["S9"]["Photo"][2]
    assert len(source) == view.frames + H36MArchiveSpec().extra_detection_frames
    np.testing.assert_array_equal(view.extra_keypoints["cpn_ft_h36m_dbb"], source[: view.frames])
    assert "trimmed 3 cpn_ft_h36m_dbb frames from S9/Photo/58860488" in result.notes


def test_bad_items_are_rejected_with_reasons_and_the_rest_converts(tmp_path: Path):
    spec = H36MArchiveSpec(subjects=("S1", "S9", "S11"), sequences=("Directions", "Eating", "Walking"), frames=12)
    write_videopose3d_h36m(tmp_path, spec, detections=("cpn",))
    world = _load(tmp_path / "data_3d_h36m.npz", "positions_3d")
    world["S1"]["Eating"] = world["S1"]["Eating"][:, :30]  # wrong joint count
    world["S1"]["_ALL"] = world["S1"]["Walking"]
    world["S2"] = {"Walking": world["S1"]["Walking"]}  # no ground truth subject: note only
    world["S10"] = {"Walking": world["S1"]["Walking"]}
    _save(tmp_path / "data_3d_h36m.npz", positions_3d=world)
    cpn = _load(tmp_path / "data_2d_h36m_cpn.npz", "positions_2d")
    cpn["S9"]["Eating"][1] = cpn["S9"]["Eating"][1][:5]  # shorter than the mocap
    cpn["S9"]["Walking"] = cpn["S9"]["Walking"][:3]  # a camera missing
    cpn["S5"] = {"Walking": cpn["S9"]["Walking"]}  # detections without mocap: a note
    _save(tmp_path / "data_2d_h36m_cpn.npz", positions_2d=cpn, metadata={"layout_name": "h36m"})
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    mpii = {"S1": {"Walking": [np.zeros((12, 16, 2), np.float32)] * 4}}  # stacked hourglass: 16 MPII joints
    _save(tmp_path / "data_2d_h36m_sh_pt_mpii.npz", positions_2d=mpii, metadata={"num_joints": 16})
    result = read_h36m(tmp_path, detections={"other": tmp_path / "broken.npz"})
    reasons = sorted((r.reason, r.path.split("::")[-1]) for r in result.rejected)
    assert reasons == [
        ("detections_too_short", "S9/Eating/55011271"),
        ("known_quirk", "S11/Directions/54138969"),
        ("known_quirk", "S11/Directions/55011271"),
        ("known_quirk", "S11/Directions/58860488"),
        ("known_quirk", "S11/Directions/60457274"),
        ("missing_camera", "S9/Walking/60457274"),
        ("unknown_subject", "S10/Walking"),
        ("unreadable_file", str(tmp_path / "broken.npz")),
        ("unsupported_layout", str(tmp_path / "data_2d_h36m_sh_pt_mpii.npz")),
        ("wrong_joint_count", "S1/Eating"),
    ]
    # 9 sequences of S1, S9, S11 x 4 cameras, minus S1/Eating, S11/Directions and two single views.
    assert len(result.views) == 4 * (9 - 2) - 2
    assert "ignored S2: Human3.6M has no public 3D ground truth or cameras for it" in result.notes
    assert any("_ALL" in note for note in result.notes)
    assert "detections 'cpn': ignored sequences without mocap (1): S5/Walking" in result.notes


def test_user_given_detections_and_format_detection(tmp_path: Path, npz_tree: Path):
    result = read_h36m(npz_tree, detections={"mine": npz_tree / "data_2d_h36m_cpn_ft_h36m_dbb.npz"})
    assert set(result.views[0].extra_keypoints) == {"gt", "cpn_ft_h36m_dbb", "mine"}
    with pytest.raises(FileNotFoundError, match="data_3d_h36m.npz"):
        detect_format(tmp_path)
    write_h36m_cdf(tmp_path, SMALL)
    _save(tmp_path / "data_3d_h36m.npz", positions_3d=synthetic_world_poses(SMALL))
    with pytest.raises(ValueError, match="format="):
        detect_format(tmp_path)
    assert len(read_h36m(tmp_path, format="cdf").views) == len(read_h36m(tmp_path, format="videopose3d").views)
