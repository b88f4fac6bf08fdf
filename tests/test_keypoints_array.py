"""Plain ``.npy``/``.npz`` keypoint arrays: fields, joint orders, filling and the errors users see."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.keypoints import KeypointFileError, read_keypoints


def _h36m_frames(count: int) -> np.ndarray:
    """(count, 17, 2): joint j of frame t at x = 10 t + j, y = 100 + j (pixels)."""
    t, j = np.meshgrid(np.arange(count), np.arange(17), indexing="ij")
    return np.stack([10.0 * t + j, 100.0 + j], axis=-1).astype(np.float32)


def test_npy_without_scores_fills_a_missing_frame_linearly(tmp_path):
    """Frame 2 is NaN: its x is the mean of frames 1 and 3 (10 + j and 30 + j -> 20 + j), y = 100 + j.

    Without a score channel every finite joint scores 1; the filled frame scores 0 and is unobserved.
    """
    frames = _h36m_frames(5)
    frames[2] = np.nan
    np.save(tmp_path / "clip.npy", frames)
    detected = read_keypoints(tmp_path / "clip.npy", joint_order="h36m17")
    assert detected.format == "array" and detected.person is None and detected.people == {}
    np.testing.assert_allclose(detected.keypoints[2, :, 0], 20.0 + np.arange(17))
    np.testing.assert_allclose(detected.keypoints[2, :, 1], 100.0 + np.arange(17))
    assert detected.observed.sum() == 4 * 17 and not detected.observed[2].any()
    np.testing.assert_array_equal(detected.keypoints[[0, 1, 3, 4], :, 2], 1.0)
    np.testing.assert_array_equal(detected.keypoints[2, :, 2], 0.0)
    np.testing.assert_array_equal(detected.frame_indices, [0, 1, 2, 3, 4])
    assert (detected.fps, detected.fps_source) == (30.0, "default")


def test_npz_with_names_fps_and_size_uses_the_files_values(tmp_path):
    """An npz naming its joints in COCO order (reversed in the file) is mapped by the names, not the count.

    Joint k of the file is COCO joint 16 - k, at x = k. Human3.6M pelvis = mean(left_hip, right_hip) = COCO
    11 and 12 = file joints 5 and 4 -> x = 4.5; neck_nose = nose = file joint 16 -> x = 16.
    """
    coco = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
            "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
            "right_knee", "left_ankle", "right_ankle"]  # fmt: skip
    names = np.array(coco[::-1])
    keypoints = np.zeros((3, 17, 3), np.float32)
    keypoints[..., 0] = np.arange(17)
    keypoints[..., 2] = 0.8
    np.savez(
        tmp_path / "clip.npz",
        keypoints=keypoints,
        joint_names=names,
        fps=np.float64(50.0),
        image_size=np.array([640, 480]),
    )
    detected = read_keypoints(tmp_path / "clip.npz")
    assert detected.keypoints[0, 0, 0] == pytest.approx(4.5)
    assert detected.keypoints[0, 9, 0] == pytest.approx(16.0)
    assert (detected.fps, detected.fps_source, detected.image_size) == (50.0, "file", (640, 480))


def test_option_fps_is_used_when_the_file_has_none_and_a_contradiction_is_an_error(tmp_path):
    np.save(tmp_path / "clip.npy", _h36m_frames(3))
    detected = read_keypoints(tmp_path / "clip.npy", joint_order="h36m17", fps=25.0)
    assert (detected.fps, detected.fps_source) == (25.0, "option")
    np.savez(tmp_path / "rated.npz", keypoints=_h36m_frames(3), fps=np.float64(50.0))
    with pytest.raises(KeypointFileError, match="rated.npz: the file states fps 50.0 but 25.0"):
        read_keypoints(tmp_path / "rated.npz", joint_order="h36m17", fps=25.0)


def test_wrong_joint_count_for_the_order_is_one_error_naming_the_file(tmp_path):
    np.save(tmp_path / "clip.npy", np.zeros((4, 16, 3), np.float32))
    with pytest.raises(
        KeypointFileError, match=r"clip.npy: has 16 joints per person but joint order coco17 has 17; wrong joint count"
    ):
        read_keypoints(tmp_path / "clip.npy", joint_order="coco17")


def test_seventeen_joints_without_an_order_is_ambiguous(tmp_path):
    np.save(tmp_path / "clip.npy", np.zeros((4, 17, 3), np.float32))
    with pytest.raises(KeypointFileError, match="fits h36m17 and coco17"):
        read_keypoints(tmp_path / "clip.npy")


def test_all_scores_below_the_minimum_is_no_usable_person(tmp_path):
    keypoints = np.zeros((4, 26, 3), np.float32)
    keypoints[..., 2] = 0.1
    np.save(tmp_path / "halpe.npy", keypoints)
    with pytest.raises(KeypointFileError, match="halpe.npy: no usable person"):
        read_keypoints(tmp_path / "halpe.npy", min_score=0.3)
