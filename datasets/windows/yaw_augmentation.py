"""On-the-fly virtual cameras: every window seen from a new viewpoint each epoch (AMASS pretraining).

A view's camera is turned about the world's vertical axis through the subject's root at the window's centre
frame (``VirtualCameraConfig``). In the camera frame this is the rotation ``M = R Rz(-yaw) R^T`` about the
centre root ``c``: ``X' = M (X - c) + c``, with ``R`` the view's world-to-camera rotation, so the subject keeps
its distance and height in the image. The new 2D input is ``datasets.cameras.project`` of ``X'`` through the
view's own intrinsics, encoded like every other window (``datasets.windows.codec``).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy.spatial.transform import Rotation

from datasets.cameras import Camera, project
from datasets.store.world import index_camera
from datasets.windows.codec import normalise_keypoints, restore_root
from datasets.windows.config import VirtualCameraConfig


class VirtualCameras:
    """Re-projects batches of windows through randomly turned copies of their views' cameras.

    Args:
        index: The store's index table (cameras per row).
        config: Yaw range, vertical axis, distortion.
    """

    def __init__(self, index: pa.Table, config: VirtualCameraConfig) -> None:
        self.config = config
        self.rotations = np.asarray(index["R"].to_pylist(), dtype=np.float64).reshape(-1, 3, 3)  # (V, 3, 3)
        self.widths = index["width"].to_numpy()
        self.heights = index["height"].to_numpy()
        self._index = index
        self._cameras: dict[int, Camera] = {}

    def _camera(self, row: int) -> Camera:
        if row not in self._cameras:
            self._cameras[row] = index_camera(self._index, row)
        return self._cameras[row]

    def camera_rotations(self, rows: np.ndarray, yaw_fractions: np.ndarray) -> np.ndarray:
        """Camera-frame rotations ``M = R Rz(-yaw) R^T`` of windows.

        Args:
            rows: (B,) index rows of the windows' views.
            yaw_fractions: (B,) uniform numbers in [0, 1) mapped linearly onto ``yaw_range_degrees``.

        Returns:
            (B, 3, 3) float64.
        """
        low, high = self.config.yaw_range_degrees
        yaw = np.deg2rad(low + (high - low) * np.asarray(yaw_fractions, dtype=np.float64))
        axis = np.zeros((len(yaw), 3))
        axis[:, self.config.up_axis] = 1.0
        turn = Rotation.from_rotvec(-yaw[:, None] * axis).as_matrix()  # (B, 3, 3), world frame
        world_to_camera = self.rotations[rows]
        return world_to_camera @ turn @ np.swapaxes(world_to_camera, 1, 2)

    def apply(self, batch: dict[str, np.ndarray], rows: np.ndarray, yaw_fractions: np.ndarray) -> None:
        """Turn every window of ``batch`` in place: ``joints_3d`` (root-relative), ``root`` and ``keypoints``.

        Args:
            batch: ``joints_3d`` (B, P, J, 3) root-relative metres, ``root`` (B, P, 3) metres, camera frame;
                ``keypoints`` (B, P, J, 2) is replaced by the projection.
            rows: (B,) index rows.
            yaw_fractions: (B,) uniform numbers in [0, 1).
        """
        turn = self.camera_rotations(rows, yaw_fractions).astype(np.float32)  # (B, 3, 3)
        centre_root = batch["root"][:, batch["root"].shape[1] // 2]  # (B, 3) the pivot c
        relative = np.einsum("bij,bpkj->bpki", turn, batch["joints_3d"])  # (B, P, J, 3)
        root = np.einsum("bij,bpj->bpi", turn, batch["root"] - centre_root[:, None]) + centre_root[:, None]
        absolute = restore_root(relative, root)
        pixels = np.empty(absolute.shape[:-1] + (2,), dtype=np.float32)
        for row in np.unique(rows):
            same = rows == row
            pixels[same] = project(absolute[same], self._camera(int(row)), distort=self.config.distort)
        batch["joints_3d"], batch["root"] = relative.astype(np.float32), root.astype(np.float32)
        batch["keypoints"] = normalise_keypoints(pixels, self.widths[rows], self.heights[rows])
