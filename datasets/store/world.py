"""Camera-frame 3D and 2D of a view, derived from its sequence's world-frame joints and its camera.

The one definition of what a world-frame store's ``joints_3d`` and ``keypoints_2d`` are. The AMASS converter
films its sequences with it (``datasets.amass.virtual_cameras.film``), the store reader derives a view's
arrays with it, and the windows dataset derives whole batches with it, so every consumer sees the same
numbers:

- ``joints_3d = float32(R X_world + t)``, computed in float64 from the stored float32 world joints;
- ``keypoints_2d = float32(project(joints_3d))``: ``datasets.cameras.project`` (distortion, VideoPose3D's
  clamp) of exactly the float32 camera-frame joints.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datasets.cameras import Camera, project, world_to_camera
from datasets.store.schema import REQUIRED_ARRAYS


def film_world(joints_world: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """One camera's view of world-frame joints.

    Args:
        joints_world: (..., J, 3) metres, world frame.
        camera: The camera (extrinsics and intrinsics).

    Returns:
        joints_3d (..., J, 3) float32 metres, camera frame; keypoints_2d (..., J, 2) float32 pixels.
    """
    joints_3d = world_to_camera(np.asarray(joints_world, dtype=np.float64), camera).astype(np.float32)
    pixels = project(joints_3d.astype(np.float64), camera)
    return joints_3d, pixels.astype(np.float32)


def derive(name: str, joints_world: np.ndarray, camera: Camera) -> np.ndarray:
    """The camera-frame array ``name`` (``"joints_3d"`` or ``"keypoints_2d"``) of world-frame joints."""
    if name not in REQUIRED_ARRAYS:
        raise KeyError(f"Only {REQUIRED_ARRAYS} are derived from world-frame joints, not {name!r}.")
    joints_3d, keypoints_2d = film_world(joints_world, camera)
    return joints_3d if name == "joints_3d" else keypoints_2d


def world_from_view(joints_3d: np.ndarray, camera: Camera) -> np.ndarray:
    """World-frame joints (..., J, 3) float64 metres from a view's camera-frame joints: ``R^T (X - t)``."""
    rotation, translation = np.asarray(camera.rotation, np.float64), np.asarray(camera.translation, np.float64)
    return (np.asarray(joints_3d, dtype=np.float64) - translation) @ rotation


def index_camera(index: pa.Table, row: int) -> Camera:
    """The camera of index row ``row`` (``Camera.from_index_row`` of its columns, named by ``camera``)."""
    values = {name: index[name][row].as_py() for name in index.column_names}
    return Camera.from_index_row(values, name=str(values["camera"]))
