"""HumanEva-I reader on synthetic trees in the real formats (ConvertHumanEva.m MATLAB export, VideoPose3D npz)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixture_archives import write_humaneva_mat
from scipy.io import loadmat, savemat
from scipy.spatial.transform import Rotation

from datasets.humaneva import detect_format, read_humaneva, split_of
from datasets.synthetic.humaneva_archive import HumanEvaArchiveSpec, write_humaneva_npz

SPEC = HumanEvaArchiveSpec()
CAMERAS_JSON = Path(__file__).resolve().parents[1] / "datasets" / "data" / "humaneva_cameras.json"


def camera_frame(world: np.ndarray, subject: str, camera: str) -> np.ndarray:
    """docs/formats.md 3.6 written out without ``datasets.cameras``: the quaternion (w, x, y, z) rotates camera-frame
    vectors into the world and the centre is in mm, so ``X_camera = R^T (X_world - centre / 1000)``."""
    entry = json.loads(CAMERAS_JSON.read_text())["extrinsics"][subject][camera]
    w, x, y, z = entry["orientation_wxyz"]
    rotation = Rotation.from_quat([x, y, z, w]).as_matrix()  # scipy's order is (x, y, z, w)
    return (world - np.array(entry["centre_mm"]) / 1000.0) @ rotation


def _load(path: Path, key: str) -> dict:
    with np.load(path, allow_pickle=True) as archive:  # VideoPose3D's own (third-party) format
        return archive[key].item()


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("humaneva")
    write_humaneva_mat(root / "mat")
    write_humaneva_npz(root / "npz")
    return root / "mat", root / "npz"


def test_protocol_split():
    assert split_of("Train", "Walking") == "train"
    assert split_of("Validate", "Walking") == split_of("Validate", "Jog") == "test"
    assert split_of("Validate", "Box") == "validation"
    assert split_of("Validate", "Box", test_actions=("Walking", "Jog", "Box")) == "test"


def test_one_view_per_chunk_and_camera(trees: tuple[Path, Path]):
    result = read_humaneva(trees[0])
    assert result.rejected == [] and result.skeleton == "humaneva15"
    keys = [(v.subset, v.subject, v.sequence, v.camera.name) for v in result.views]
    assert len(keys) == len(set(keys))
    # 12 sequences; every second one has a gap, so it is two chunks (chunk0, chunk2): 18 chunks x 3 cameras.
    assert len(keys) == 3 * (12 + 6)
    assert ("Train", "S1", "Jog 1 chunk2", "C3") in keys and ("Train", "S1", "Jog 1 chunk1", "C3") not in keys
    assert {v.fps for v in result.views} == {60.0}
    assert "Train/S1/Jog 1: skipped 6 frames without valid mocap" in result.notes


def test_joints_are_the_mocap_seen_by_each_camera_and_2d_the_source_projection(trees: tuple[Path, Path]):
    result = read_humaneva(trees[0])
    content = loadmat(trees[0] / "converted_15j/Validate/S2/Walking_1.mat")
    views = [v for v in result.views if (v.subset, v.subject, v.action) == ("Validate", "S2", "Walking")]
    assert {v.split for v in views} == {"test"}
    start = 0
    for view in views:  # chunk0 then chunk2, cameras C1..C3
        if view.sequence.endswith("chunk2"):
            start = np.flatnonzero(~np.isfinite(content["poses_3d"]).any(axis=(1, 2)))[-1] + 1
        world = content["poses_3d"][start : start + view.frames] / 1000.0
        np.testing.assert_allclose(view.joints_3d, camera_frame(world, "S2", view.camera.name), atol=1e-5)
        expected_2d = content["poses_2d"][["C1", "C2", "C3"].index(view.camera.name), start : start + view.frames]
        np.testing.assert_allclose(view.keypoints_2d, expected_2d, atol=1e-3)


def test_matlab_export_and_videopose3d_npz_give_identical_views(trees: tuple[Path, Path]):
    from_mat, from_npz = read_humaneva(trees[0]), read_humaneva(trees[1])
    assert [v.describe() for v in from_mat.views] == [v.describe() for v in from_npz.views]
    for a, b in zip(from_mat.views, from_npz.views, strict=True):
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
        np.testing.assert_array_equal(a.keypoints_2d, b.keypoints_2d)


def test_chunks_are_named_by_run_number_like_videopose3d(tmp_path: Path):
    """Runs finite(3) NaN(2) finite(3) NaN(1) are chunks 0..3; the finite ones, chunk0 and chunk2, become views."""
    poses = np.ones((9, 15, 3))
    poses[3:5] = poses[8] = np.nan
    folder = tmp_path / "Train/S3"
    folder.mkdir(parents=True)
    savemat(folder / "Gestures_2.mat", {"poses_3d": poses, "poses_2d": np.ones((3, 9, 15, 2))})
    result = read_humaneva(tmp_path)
    assert [(v.sequence, v.frames) for v in result.views[::3]] == [("Gestures 2 chunk0", 3), ("Gestures 2 chunk2", 3)]
    assert result.notes == ["Train/S3/Gestures 2: skipped 3 frames without valid mocap"]


def test_bad_items_are_rejected_with_reasons_and_the_rest_converts(trees: tuple[Path, Path], tmp_path: Path):
    shutil.copytree(trees[1], tmp_path, dirs_exist_ok=True)
    world = _load(tmp_path / "data_3d_humaneva15.npz", "positions_3d")
    ground_truth = _load(tmp_path / "data_2d_humaneva15_gt.npz", "positions_2d")
    world["Train/S1"]["Box 1 chunk0"] = world["Train/S1"]["Box 1 chunk0"][:, :14]  # wrong joint count
    world["Train/S4"] = {"Box 1 chunk0": world["Train/S2"]["Box 1 chunk0"]}  # no such subject
    ground_truth["Validate/S1"]["Walking 1 chunk0"] = ground_truth["Validate/S1"]["Walking 1 chunk0"][:2]
    ground_truth["Train/S2"]["Jog 1 chunk0"][1] = ground_truth["Train/S2"]["Jog 1 chunk0"][1][:-4]  # 2D shorter
    np.savez_compressed(tmp_path / "data_3d_humaneva15.npz", positions_3d=world)
    np.savez_compressed(tmp_path / "data_2d_humaneva15_gt.npz", positions_2d=ground_truth)
    (tmp_path / "data_2d_humaneva15_broken.npz").write_bytes(b"PK\x03\x04 truncated")
    coco = {"layout_name": "coco", "num_joints": 17}
    np.savez_compressed(tmp_path / "data_2d_humaneva15_detectron_pt_coco.npz", positions_2d={}, metadata=coco)
    result = read_humaneva(tmp_path)
    reasons = sorted((r.reason, r.path.split("::")[-1]) for r in result.rejected)
    assert reasons == [
        ("length_mismatch", "Train/S2/Jog 1 chunk0/C2"),
        ("missing_camera", "Validate/S1/Walking 1 chunk0/C3"),
        ("unknown_subject", "Train/S4/Box 1 chunk0"),
        ("unreadable_file", str(tmp_path / "data_2d_humaneva15_broken.npz")),
        ("unsupported_layout", str(tmp_path / "data_2d_humaneva15_detectron_pt_coco.npz")),
        ("wrong_joint_count", "Train/S1/Box 1 chunk0"),
    ]
    assert len(result.views) == 3 * 18 - 3 - 1 - 1  # Box chunk: all cameras; two single views


def test_detection_files_are_attached_trimmed_and_unlabelled_chunks_ignored(trees: tuple[Path, Path], tmp_path: Path):
    ground_truth = _load(trees[1] / "data_2d_humaneva15_gt.npz", "positions_2d")
    detections = {
        key: {name: [np.concatenate([k, k[-2:]]) + 1.5 for k in per_camera] for name, per_camera in sequences.items()}
        for key, sequences in ground_truth.items()
    }
    detections["Unlabeled/S4"] = {"Box 2": [np.zeros((5, 15, 2), np.float32)] * 3}
    np.savez_compressed(tmp_path / "detectron.npz", positions_2d=detections, metadata={"layout_name": "humaneva15"})
    result = read_humaneva(trees[1], detections={"detectron": tmp_path / "detectron.npz"})
    assert result.rejected == []
    for view in result.views:
        np.testing.assert_array_equal(view.extra_keypoints["detectron"], view.keypoints_2d + 1.5)
    assert "ignored 2D of Unlabeled/S4: frames without mocap" in result.notes
    assert sum(note.startswith("trimmed 2 detectron frames") for note in result.notes) == len(result.views)


def test_format_detection(trees: tuple[Path, Path], tmp_path: Path):
    assert (detect_format(trees[0]), detect_format(trees[1])) == ("mat", "videopose3d")
    with pytest.raises(FileNotFoundError, match="data_3d_humaneva15.npz"):
        detect_format(tmp_path)
    shutil.copytree(trees[0], tmp_path, dirs_exist_ok=True)
    shutil.copytree(trees[1], tmp_path, dirs_exist_ok=True)
    with pytest.raises(ValueError, match="format="):
        detect_format(tmp_path)
    assert len(read_humaneva(tmp_path, format="mat").views) == len(read_humaneva(tmp_path, format="videopose3d").views)
