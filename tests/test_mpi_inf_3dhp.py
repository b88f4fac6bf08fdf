"""MPI-INF-3DHP reader on synthetic trees in the release's MATLAB formats and in the preprocessed npz format."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fixture_archives import write_3dhp_npz
from scipy.io import loadmat, savemat

from datasets.cameras import project
from datasets.mpi_inf_3dhp import MpiInf3dhpOptions, detect_format, read_3dhp
from datasets.mpi_inf_3dhp_cameras import camera_of_test_sequence, read_calibration
from datasets.synthetic.mpi_inf_3dhp_archive import MpiInf3dhpArchiveSpec, write_3dhp_mat

SPEC = MpiInf3dhpArchiveSpec()
VNECT_CAMERAS = (0, 1, 2, 4, 5, 6, 7, 8)  # docs/formats.md 2.1: the default camera set of the reader
# h36m17 joints as MPI-INF-3DHP 28-joint indices, read off docs/formats.md 2.1 by name: pelvis 4, right hip/knee/ankle
# 23-25, left 18-20, spine 3, neck 5, head 6, head_top 7, left shoulder/elbow/wrist 9-11, right 14-16.
H36M17_FROM_MPI28 = [4, 23, 24, 25, 18, 19, 20, 3, 5, 6, 7, 9, 10, 11, 14, 15, 16]
# ... and as test-set 17-joint indices (docs/formats.md 2.2, the mapping m).
H36M17_FROM_MPI17 = [14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("mpi_inf_3dhp")
    write_3dhp_mat(root / "mat")
    write_3dhp_npz(root / "npz")
    return root / "mat", root / "npz"


def test_one_view_per_sequence_and_camera_with_split_and_rate(trees: tuple[Path, Path]):
    result = read_3dhp(trees[0])
    assert result.rejected == [] and result.skeleton == "h36m17"
    train = [(v.subject, v.sequence, int(v.camera.name)) for v in result.views if v.split == "train"]
    expected = [(s, q, c) for s in SPEC.subjects for q in SPEC.sequences for c in VNECT_CAMERAS]
    assert train == expected
    test = [(v.subject, v.camera.name, v.fps, v.camera.width, v.camera.height) for v in result.views[len(train) :]]
    assert test == [("TS1", "test_studio", 25.0, 2048, 2048), ("TS5", "test_outdoor", 50.0, 1920, 1080)]
    rates = {(v.subject, v.sequence): v.fps for v in result.views}
    assert rates[("S1", "Seq2")] == 50.0 and rates[("S2", "Seq2")] == 25.0  # mpii_get_sequence_info


def test_training_views_are_the_annotation_cells_in_metres(trees: tuple[Path, Path]):
    result = read_3dhp(trees[0])
    annotations = loadmat(trees[0] / "S2/Seq1/annot.mat")
    for view in [v for v in result.views if (v.subject, v.sequence) == ("S2", "Seq1")]:
        camera = int(view.camera.name)
        poses = annotations["univ_annot3"][camera, 0].reshape(-1, 28, 3)[:, H36M17_FROM_MPI28] / 1000.0
        keypoints = annotations["annot2"][camera, 0].reshape(-1, 28, 2)[:, H36M17_FROM_MPI28]
        np.testing.assert_allclose(view.joints_3d, poses, atol=1e-6)
        np.testing.assert_allclose(view.keypoints_2d, keypoints, atol=1e-3)


def test_metric_annotation_reprojects_with_the_parsed_calibration(trees: tuple[Path, Path]):
    result = read_3dhp(trees[0], options=MpiInf3dhpOptions(cameras=(3, 11), annotation="annot3"))
    assert [v.camera.name for v in result.views if v.split == "train"] == ["3", "11"] * 4
    for view in result.views:
        np.testing.assert_allclose(
            project(view.joints_3d.astype(np.float64), view.camera), view.keypoints_2d, atol=1e-3
        )


def test_test_set_from_matlab_v73_and_from_the_npz_is_identical(trees: tuple[Path, Path]):
    from_mat = [v for v in read_3dhp(trees[0]).views if v.split == "test"]
    from_npz = [v for v in read_3dhp(trees[1]).views if v.split == "test"]
    assert (
        [v.describe() for v in from_mat]
        == [v.describe() for v in from_npz]
        == [
            "mpi_inf_3dhp/test/TS1/TS1/test_studio",
            "mpi_inf_3dhp/test/TS5/TS5/test_outdoor",
        ]
    )
    for a, b in zip(from_mat, from_npz, strict=True):
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
        np.testing.assert_array_equal(a.keypoints_2d, b.keypoints_2d)
        np.testing.assert_array_equal(a.valid, b.valid)
        assert a.camera == b.camera and a.fps == b.fps
    assert from_mat[0].valid.tolist()[:7] == [True, True, True, False, False, False, True]


def test_test_views_carry_activity_and_follow_the_h36m_order(trees: tuple[Path, Path]):
    import h5py

    result = read_3dhp(trees[0])
    position = next(i for i, v in enumerate(result.views) if v.subject == "TS1")
    with h5py.File(trees[0] / "mpi_inf_3dhp_test_set/TS1/annot_data.mat", "r") as content:
        universal = content["univ_annot3"][:, 0]  # (N, 1, 17, 3): MATLAB's 3 x 17 x 1 x N reversed
        activity = content["activity_annotation"][:, 0]
    np.testing.assert_allclose(result.views[position].joints_3d, universal[:, H36M17_FROM_MPI17] / 1000, atol=1e-6)
    np.testing.assert_array_equal(result.per_frame[position]["activity"], activity)
    assert result.per_frame[position]["activity"].dtype == np.int16


def test_training_npz_matches_matlab_and_uses_a_calibration_when_present(trees: tuple[Path, Path], tmp_path: Path):
    shutil.copy(trees[1] / "data_train_3dhp.npz", tmp_path)
    without = read_3dhp(tmp_path)
    assert all(not v.camera.has_intrinsics for v in without.views)
    shutil.copytree(trees[0] / "S1", tmp_path / "S1", ignore=shutil.ignore_patterns("annot.mat"))
    with_calibration = read_3dhp(tmp_path, format="npz")
    from_mat = read_3dhp(trees[0]).views
    for view in with_calibration.views:
        twin = next(v for v in from_mat if v.describe() == view.describe())
        np.testing.assert_array_equal(view.joints_3d, twin.joints_3d)
        np.testing.assert_array_equal(view.keypoints_2d, twin.keypoints_2d)
        assert (view.camera == twin.camera) == (view.subject == "S1")


def test_read_calibration_parses_the_skeletool_layout(tmp_path: Path):
    """fx, cx come from intrinsic[0, 0], [0, 2]; the extrinsic's last column is t in mm, so t / 1000 metres."""
    (tmp_path / "camera.calibration").write_text(
        "Skeletool Camera Calibration File V1.0\nname 0\n  sensor 10 10\n  size 2048 2048\n  animated 0\n"
        "  intrinsic 1500 0 1020 0 0 1490 1030 0 0 0 1 0 0 0 0 1\n"
        "  extrinsic 1 0 0 100 0 1 0 -200 0 0 1 3000 0 0 0 1\n  radial 0\n"
    )
    camera = read_calibration(tmp_path / "camera.calibration")[0]
    assert (camera.fx, camera.fy, camera.cx, camera.cy, camera.width) == (1500, 1490, 1020, 1030, 2048)
    np.testing.assert_allclose(camera.translation, [0.1, -0.2, 3.0])
    np.testing.assert_allclose(camera.rotation, np.eye(3))


def test_test_camera_converts_the_official_calibration():
    """TS5 (GoPro): fx = focal / sensor width * width = 8.770747185 / 10 * 1920 = 1683.98345952 px."""
    outdoor, studio = camera_of_test_sequence("TS5"), camera_of_test_sequence("TS2")
    assert outdoor.fx == pytest.approx(1683.98345952)
    assert (outdoor.width, outdoor.height, studio.width, studio.height) == (1920, 1080, 2048, 2048)
    assert studio.fx == pytest.approx(7.32506 / 10 * 2048) and studio.radial == (0.0, 0.0, 0.0)
    # The calibration's camera centre ("origin", mm) maps to the camera-frame origin.
    np.testing.assert_allclose(outdoor.center * 1000, [-2104.3074, 1038.6707, -4596.6367], atol=1e-3)


def test_bad_items_are_rejected_with_reasons_and_the_rest_converts(tmp_path: Path):
    spec = MpiInf3dhpArchiveSpec(subjects=("S3",), sequences=("Seq1", "Seq2"), test_sequences=("TS2", "TS6"))
    write_3dhp_mat(tmp_path, spec)
    (tmp_path / "S3/Seq2/camera.calibration").unlink()
    path = tmp_path / "S3/Seq1/annot.mat"
    annotations = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
    annotations["annot2"][1, 0] = annotations["annot2"][1, 0][:, :50]  # truncated rows: 25 joints
    annotations["annot2"][2, 0] = annotations["annot2"][2, 0][:10]  # 2D shorter than 3D
    for name in ("annot2", "univ_annot3"):
        annotations[name] = annotations[name][:7]  # cells for cameras 0..6 only
    savemat(path, annotations)
    (tmp_path / "mpi_inf_3dhp_test_set/TS6/annot_data.mat").write_bytes(b"\0" * 64)
    result = read_3dhp(tmp_path)
    reasons = sorted((r.reason, r.path.replace(str(tmp_path), "")) for r in result.rejected)
    assert reasons == [
        ("length_mismatch", "/S3/Seq1/annot.mat::camera 2"),
        ("missing_calibration", "/S3/Seq2/camera.calibration"),
        ("missing_camera", "/S3/Seq1/annot.mat::camera 7"),
        ("missing_camera", "/S3/Seq1/annot.mat::camera 8"),
        ("unreadable_file", "/mpi_inf_3dhp_test_set/TS6/annot_data.mat"),
        ("wrong_joint_count", "/S3/Seq1/annot.mat::camera 1"),
    ]
    assert [v.describe() for v in result.views] == [
        "mpi_inf_3dhp/train/S3/Seq1/0",
        "mpi_inf_3dhp/train/S3/Seq1/4",
        "mpi_inf_3dhp/train/S3/Seq1/5",
        "mpi_inf_3dhp/train/S3/Seq1/6",
        "mpi_inf_3dhp/test/TS2/TS2/test_studio",
    ]


def test_options_and_format_detection_fail_fast(trees: tuple[Path, Path], tmp_path: Path):
    with pytest.raises(ValueError, match="repeat"):
        MpiInf3dhpOptions(cameras=(0, 0))
    with pytest.raises(ValueError, match="annotation"):
        MpiInf3dhpOptions(annotation="annot4")
    with pytest.raises(ValueError, match="univ_annot3"):
        read_3dhp(trees[1], options=MpiInf3dhpOptions(annotation="annot3"))
    with pytest.raises(FileNotFoundError, match="data_train_3dhp.npz"):
        detect_format(tmp_path)
    shutil.copy(trees[1] / "data_test_3dhp.npz", tmp_path)
    shutil.copytree(trees[0] / "mpi_inf_3dhp_test_set", tmp_path / "mpi_inf_3dhp_test_set")
    with pytest.raises(ValueError, match="format="):
        detect_format(tmp_path)


@pytest.mark.parametrize("sequence", ["TS1", "TS5", "TS6"])
def test_test_camera_reprojects_annot3_onto_annot2(tmp_path: Path, sequence: str):
    """The stored camera of a test view projects the stored metric 3D onto the stored 2D (median < 0.05 px).

    The archive's 2D is the pinhole projection of ``annot3`` with fy = fx * pixelAspect and no distortion,
    the reading docs/formats.md 2.2 records from the real annotations; dividing by pixelAspect moves TS5 points
    by about fy * 0.0136 * |y| / z, several pixels, and the GoPro distortion tens of pixels at the edges.
    """
    write_3dhp_mat(tmp_path, MpiInf3dhpArchiveSpec(subjects=("S1",), sequences=("Seq1",), test_sequences=(sequence,)))
    result = read_3dhp(tmp_path, options=MpiInf3dhpOptions(annotation="annot3"))
    (view,) = [view for view in result.views if view.split == "test"]
    reprojected = project(view.joints_3d.astype(np.float64), view.camera)
    assert np.median(np.linalg.norm(reprojected - view.keypoints_2d, axis=-1)) < 0.05


def test_test_camera_reads_pixel_aspect_as_fy_over_fx_without_distortion():
    """docs/formats.md 2.2: fy = fx * pixelAspect; TS1 fx = 7.32506 / 10 * 2048 = 1500.17229 px, fy = fx * 1.00044
    = 1500.83236 px; TS6 fx = 1683.98346 px, fy = fx * 0.993236423 = 1672.59355 px; no distortion applied."""
    studio, outdoor = camera_of_test_sequence("TS1"), camera_of_test_sequence("TS6")
    assert (studio.fx, studio.fy) == (pytest.approx(1500.17229), pytest.approx(1500.83236))
    assert (outdoor.fx, outdoor.fy) == (pytest.approx(1683.98346), pytest.approx(1672.59355))
    assert not studio.has_distortion and not outdoor.has_distortion
