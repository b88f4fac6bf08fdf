"""VideoPose3D's custom 2D npz, written as its ``data/prepare_data_2d_custom.py`` writes one."""

from __future__ import annotations

import os

import numpy as np
import pytest

from datasets.keypoints import KeypointFileError, read_keypoints


def _write(path, positions, layout="coco", num_joints=17, sizes=None):
    metadata = {
        "layout_name": layout,
        "num_joints": num_joints,
        "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]],
        "video_metadata": sizes if sizes is not None else {"walk": {"w": 1280, "h": 720}},
    }
    np.savez_compressed(path, positions_2d=positions, metadata=metadata)


def test_custom_npz_reads_the_layout_and_the_video_size(tmp_path):
    """COCO layout, joint k at x = 10 k + t, y = 5 k: pelvis = mean(hips 11, 12) -> x = 115 + t, y = 57.5.
    No scores in this format: every frame observed, score 1; image size from video_metadata (w, h)."""
    t, k = np.meshgrid(np.arange(4), np.arange(17), indexing="ij")
    keypoints = np.stack([10.0 * k + t, 5.0 * k], axis=-1).astype(np.float32)
    path = tmp_path / "data_2d_custom_myvideos.npz"
    _write(path, {"walk": {"custom": [keypoints]}})
    detected = read_keypoints(path)
    assert detected.format == "videopose3d" and detected.image_size == (1280, 720)
    np.testing.assert_allclose(detected.keypoints[:, 0, 0], [115.0, 116.0, 117.0, 118.0])
    assert detected.keypoints[0, 0, 1] == pytest.approx(57.5)
    assert detected.observed.all() and (detected.keypoints[..., 2] == 1.0).all()


def test_several_videos_are_one_error_listing_them(tmp_path):
    path = tmp_path / "two.npz"
    clip = np.zeros((3, 17, 2), np.float32)
    _write(path, {"walk": {"custom": [clip]}, "run": {"custom": [clip]}})
    with pytest.raises(KeypointFileError, match=r"two.npz: positions_2d holds 2 arrays \(walk/custom\[0\], run/"):
        read_keypoints(path)


def test_wrong_joint_count_against_the_metadata(tmp_path):
    path = tmp_path / "short.npz"
    _write(path, {"walk": {"custom": [np.zeros((3, 16, 2), np.float32)]}})
    with pytest.raises(KeypointFileError, match="short.npz: metadata says 17 joints but walk has 16"):
        read_keypoints(path)


class _Payload:
    """Unpickling this would run ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.npz"
    np.savez(path, positions_2d=np.array(_Payload(marker), dtype=object), metadata=np.array({}, dtype=object))
    with pytest.raises(KeypointFileError, match=r"evil.npz.*refused"):
        read_keypoints(path)
    assert not marker.exists()
