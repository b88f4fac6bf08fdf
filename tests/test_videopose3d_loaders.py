"""The VideoPose3D export read the way VideoPose3D's own loaders read it.

VideoPose3D's ``Human36mDataset`` and ``HumanEvaDataset`` (copied by MixSTE, PoseFormer, P-STMO and the Strided
Transformer) load ``positions_3d`` unchanged; ``Human36mDataset`` then keeps the 17 joints that remain after
removing the 32-layout indices ``REMOVED_H36M_JOINTS`` (docs/formats.md 1.3; a 17-joint file fails there with an
IndexError), and ``run.py`` maps every sequence into each camera with ``world_to_camera``: the rotation by the
inverse of the camera's float32 orientation quaternion ``q = (w, u)``, ``v' = v + 2 (w (u x v) + u x (u x v))``,
applied to ``X - t`` with the float32 translation (camera centre, mm / 1000), in torch, where float64 positions
against float32 cameras fail ("expected scalar type Float but found Double"). The helpers below are written from
that description; the cameras are our package data, the numbers VideoPose3D publishes.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.camera_rigs import H36M_CAMERA_IDS, HUMANEVA_CAMERA_IDS
from datasets.h36m import read_h36m
from datasets.humaneva import read_humaneva
from datasets.synthetic.h36m_archive import H36MArchiveSpec, write_videopose3d_h36m
from datasets.synthetic.humaneva_archive import HumanEvaArchiveSpec, write_humaneva_npz
from datasets.videopose3d import export_videopose3d

REMOVED_H36M_JOINTS = [4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24, 28, 29, 30, 31]
TOLERANCE_M = 1e-5


def _load_positions_3d(path: Path) -> dict:
    """``np.load(path, allow_pickle=True)["positions_3d"].item()``, as both VideoPose3D datasets do."""
    return np.load(path, allow_pickle=True)["positions_3d"].item()


def _remove_static_joints(positions: np.ndarray) -> np.ndarray:
    """``Human36mDataset(remove_static_joints=True)``: keep the 32-layout joints not in ``REMOVED_H36M_JOINTS``."""
    kept = [joint for joint in range(32) if joint not in REMOVED_H36M_JOINTS]
    return positions[:, kept]


def _videopose3d_cameras(file_name: str, subject: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(orientation wxyz, translation in metres) per camera, float32, as VideoPose3D's datasets hold them."""
    data = json.loads((resources.files("datasets") / "data" / file_name).read_text(encoding="utf-8"))
    rig = data["extrinsics"][subject]
    float32 = [(np.array(rig[name]["orientation_wxyz"], "float32"), np.array(rig[name]["centre_mm"], "float32"))
               for name in data["camera_order"]]  # fmt: skip
    return [(orientation, centre_mm / 1000) for orientation, centre_mm in float32]


def _world_to_camera(positions: np.ndarray, orientation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """VideoPose3D's ``world_to_camera``: inverse quaternion rotation of ``X - t``, computed in torch."""
    points = torch.from_numpy(positions - translation)  # (T, J, 3), the positions' dtype
    inverse = torch.from_numpy(orientation * np.array([1, -1, -1, -1], dtype=orientation.dtype))
    quaternion = inverse.expand(*points.shape[:-1], 4)
    axis, scalar = quaternion[..., 1:], quaternion[..., :1]
    cross = torch.cross(axis, points, dim=-1)
    return (points + 2 * (scalar * cross + torch.cross(axis, cross, dim=-1))).numpy()


def test_the_world_to_camera_helper_refuses_float64_positions_as_videopose3d_does():
    orientation, translation = _videopose3d_cameras("h36m_cameras.json", "S1")[0]
    with pytest.raises(RuntimeError):
        _world_to_camera(np.zeros((2, 17, 3), dtype=np.float64), orientation, translation)
    with pytest.raises(IndexError):
        _remove_static_joints(np.zeros((2, 17, 3), dtype=np.float32))


def test_human36m_dataset_loads_the_export_and_world_to_camera_returns_the_source_joints(tmp_path: Path):
    """Every exported sequence, cut to 17 joints and mapped into each camera, equals the source view to 1e-5 m."""
    write_videopose3d_h36m(tmp_path / "source", H36MArchiveSpec(subjects=("S1", "S9"), sequences=("Eating",)))
    imported = read_h36m(tmp_path / "source")
    export_videopose3d(imported.views, tmp_path / "out", skeleton=imported.skeleton)
    positions_3d = _load_positions_3d(tmp_path / "out/data_3d_h36m.npz")
    checked = 0
    for view in imported.views:
        world = _remove_static_joints(positions_3d[view.subject][view.sequence])
        cameras = _videopose3d_cameras("h36m_cameras.json", view.subject)
        orientation, translation = cameras[H36M_CAMERA_IDS.index(view.camera.name)]
        camera_frame = _world_to_camera(world, orientation, translation)
        np.testing.assert_allclose(camera_frame, view.joints_3d, rtol=0, atol=TOLERANCE_M)
        checked += 1
    assert checked == len(imported.views) == 8
    positions_2d = np.load(tmp_path / "out/data_2d_h36m_gt.npz", allow_pickle=True)["positions_2d"].item()
    assert {array.dtype for per in positions_2d.values() for arrays in per.values() for array in arrays} == {
        np.dtype("float32")
    }


def test_humaneva_dataset_loads_the_export_and_world_to_camera_returns_the_source_joints(tmp_path: Path):
    """HumanEva keeps its 15 joints; subject keys carry the part (``Train/S2``), cameras C1, C2, C3."""
    write_humaneva_npz(tmp_path / "source", HumanEvaArchiveSpec(subjects=("S2",), actions=("Walking",)))
    imported = read_humaneva(tmp_path / "source")
    export_videopose3d(imported.views, tmp_path / "out", skeleton=imported.skeleton)
    positions_3d = _load_positions_3d(tmp_path / "out/data_3d_humaneva15.npz")
    for view in imported.views:
        world = positions_3d[f"{view.subset}/{view.subject}"][view.sequence]
        assert world.dtype == np.float32 and world.shape[1:] == (15, 3)
        orientation, translation = _videopose3d_cameras("humaneva_cameras.json", view.subject)[
            HUMANEVA_CAMERA_IDS.index(view.camera.name)
        ]
        np.testing.assert_allclose(_world_to_camera(world, orientation, translation), view.joints_3d, atol=TOLERANCE_M)
    assert len(imported.views) > 0
