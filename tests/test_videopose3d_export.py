"""VideoPose3D export: structure of the files, and import -> export -> import giving the same values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets.camera_rigs import h36m_cameras
from datasets.h36m import read_h36m
from datasets.humaneva import read_humaneva
from datasets.skeletons import get_skeleton
from datasets.synthetic.h36m_archive import H36MArchiveSpec, write_videopose3d_h36m
from datasets.synthetic.humaneva_archive import HumanEvaArchiveSpec, write_humaneva_npz
from datasets.videopose3d import detection_name, export_videopose3d, load_object_npz
from datasets.views import View


@pytest.fixture(scope="module")
def h36m_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("h36m")
    write_videopose3d_h36m(root, H36MArchiveSpec(subjects=("S5", "S11"), sequences=("Eating", "Walking 1")))
    return root


def _assert_same_views(first: list[View], second: list[View]) -> None:
    """Same identities and 2D arrays bit for bit; 3D to 1e-5 m (float32 world coordinates, see module doc)."""
    assert [v.describe() for v in first] == [v.describe() for v in second]
    for a, b in zip(first, second, strict=True):
        assert (a.split, a.action, a.fps, a.camera) == (b.split, b.action, b.fps, b.camera)
        np.testing.assert_allclose(a.joints_3d, b.joints_3d, rtol=0, atol=1e-5)
        np.testing.assert_allclose(a.keypoints_2d, b.keypoints_2d, rtol=0, atol=1e-3)
        assert a.extra_keypoints.keys() == b.extra_keypoints.keys()
        for name in a.extra_keypoints:
            np.testing.assert_array_equal(a.extra_keypoints[name], b.extra_keypoints[name])


def test_h36m_round_trip_is_value_identical(h36m_source: Path, tmp_path: Path):
    imported = read_h36m(h36m_source)
    written = export_videopose3d(imported.views, tmp_path, skeleton=imported.skeleton)
    assert sorted(p.name for p in written) == [
        "data_2d_h36m_cpn_ft_h36m_dbb.npz",
        "data_2d_h36m_gt.npz",
        "data_3d_h36m.npz",
    ]
    reimported = read_h36m(tmp_path)
    assert reimported.rejected == []
    _assert_same_views(imported.views, reimported.views)


def test_humaneva_round_trip_keeps_part_prefixes_and_chunk_names(tmp_path: Path):
    write_humaneva_npz(tmp_path / "source", HumanEvaArchiveSpec(subjects=("S3",), actions=("Jog", "Box")))
    imported = read_humaneva(tmp_path / "source")
    export_videopose3d(imported.views, tmp_path / "out", skeleton=imported.skeleton)
    positions = load_object_npz(tmp_path / "out/data_3d_humaneva15.npz", "positions_3d")
    assert sorted(positions) == ["Train/S3", "Validate/S3"]
    assert sorted(positions["Train/S3"]) == ["Box 1 chunk0", "Box 1 chunk2", "Jog 1 chunk0"]
    _assert_same_views(imported.views, read_humaneva(tmp_path / "out").views)


def test_export_structure_metadata_and_world_positions(h36m_source: Path, tmp_path: Path):
    """A joint at the camera-frame origin of the first camera sits at that camera's centre in the world."""
    views = [v for v in read_h36m(h36m_source).views if v.sequence == "Eating" and v.subject == "S11"]
    first = views[0]
    first.joints_3d[:, 0] = 0.0
    del views[2]  # no 58860488 view of this sequence: its list entry is None
    export_videopose3d(views, tmp_path, skeleton="h36m17")
    world = load_object_npz(tmp_path / "data_3d_h36m.npz", "positions_3d")["S11"]["Eating"]
    np.testing.assert_allclose(world[:, 0], np.broadcast_to(h36m_cameras("S11")[0].center, (len(world), 3)), atol=1e-6)
    # 32-joint source layout: spine base repeats the pelvis, the clavicles the thorax, toes the ankle, hands the wrist.
    assert world.shape[1:] == (32, 3) and world.dtype == np.float32
    for filled, source in ((11, 0), (16, 13), (24, 13), (4, 3), (5, 3), (10, 8), (20, 19), (23, 19), (31, 27)):
        np.testing.assert_array_equal(world[:, filled], world[:, source])
    positions_2d = load_object_npz(tmp_path / "data_2d_h36m_gt.npz", "positions_2d")["S11"]["Eating"]
    assert [p is None for p in positions_2d] == [False, False, True, False]
    np.testing.assert_array_equal(positions_2d[3], views[2].extra_keypoints["gt"])
    skeleton = get_skeleton("h36m17")
    metadata = load_object_npz(tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", "metadata")
    assert metadata == {
        "layout_name": "h36m",
        "num_joints": 17,
        "keypoints_symmetry": [list(skeleton.left_indices), list(skeleton.right_indices)],
    }
    assert metadata["keypoints_symmetry"] == [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]  # docs/formats.md 1.4
    assert detection_name(tmp_path / "data_2d_h36m_cpn_ft_h36m_dbb.npz", "h36m") == "cpn_ft_h36m_dbb"


def test_export_from_a_pose_store_equals_export_from_its_views(h36m_source: Path, tmp_path: Path):
    from datasets.store import PoseStore, write_store

    imported = read_h36m(h36m_source)
    write_store(tmp_path / "store", imported.views, "h36m17", get_skeleton("h36m17").joint_names)
    export_videopose3d(PoseStore(tmp_path / "store"), tmp_path / "from_store")
    export_videopose3d(imported.views, tmp_path / "from_views", skeleton="h36m17")
    for name in ("data_3d_h36m.npz", "data_2d_h36m_gt.npz", "data_2d_h36m_cpn_ft_h36m_dbb.npz"):
        key = "positions_3d" if name.startswith("data_3d") else "positions_2d"
        from_store = load_object_npz(tmp_path / "from_store" / name, key)
        from_views = load_object_npz(tmp_path / "from_views" / name, key)
        assert from_store.keys() == from_views.keys()
        for subject in from_views:
            for sequence, value in from_views[subject].items():
                np.testing.assert_array_equal(np.asarray(from_store[subject][sequence]), np.asarray(value))


def test_export_refuses_what_it_cannot_write(h36m_source: Path, tmp_path: Path):
    views = read_h36m(h36m_source).views
    assert [p.name for p in export_videopose3d(views[:1], tmp_path)][0] == "data_3d_h36m.npz"  # 17 joints: h36m17
    odd = View(
        **{
            **vars(views[0]),
            "joints_3d": views[0].joints_3d[:, :16],
            "keypoints_2d": views[0].keypoints_2d[:, :16],
            "extra_keypoints": {},
        }
    )
    with pytest.raises(ValueError, match="skeleton="):
        export_videopose3d([odd], tmp_path)
    with pytest.raises(ValueError, match="at least one view"):
        export_videopose3d([], tmp_path, skeleton="h36m17")
    with pytest.raises(ValueError, match="two views"):
        export_videopose3d([views[0], views[0]], tmp_path, skeleton="h36m17")
