"""The lifting codec: what the model sees of a pose (encode) and how its output meets the metric (decode).

One home for the two normalisations every lifting model here shares, whichever backend the frames come from
(``frames.py``, ``world_frames.py``, ``yaw_augmentation.py``), and whichever caller scores the output
(``lifting.evaluation``, ``lifting.metrics``):

- 2D input: pixels to VideoPose3D's screen coordinates (``datasets.cameras.pixels_to_normalized``: x in
  [-1, 1] across the image, y scaled by the same factor), the detector's confidence channel dropped.
- 3D target: joints relative to the skeleton's root (metres, camera frame); the root trajectory is kept
  apart, and adding it back restores the absolute joints.

Shape legend: ``T`` frames, ``J`` joints, ``B`` windows, ``...`` any leading dimensions.

Example:
    >>> import numpy as np
    >>> encode_keypoints(np.array([[[0.0, 0.0], [1000.0, 500.0]]]), width=1000, height=1000).tolist()
    [[[-1.0, -1.0], [1.0, 0.0]]]
    >>> joints = np.array([[[1.0, 2.0, 3.0], [1.5, 2.0, 3.0]]])
    >>> relative, root = split_root(joints, root=0)
    >>> relative.tolist(), root.tolist()
    ([[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]], [[1.0, 2.0, 3.0]])
"""

from __future__ import annotations

import numpy as np

from datasets.cameras import pixels_to_normalized

SPATIAL_CHANNELS = 2
"""x, y: channels of the 2D input (a detector's confidence channel is dropped)."""


def encode_keypoints(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """One image's 2D keypoints to model input: pixels -> screen coordinates.

    Args:
        pixels: (..., J, C) pixels, C >= 2 (x, y first; a confidence channel, if any, is dropped).
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        (..., J, 2) float32: x in [-1, 1] across the image, y scaled alike (``pixels_to_normalized``).
    """
    pixels = np.asarray(pixels)[..., :SPATIAL_CHANNELS]
    return np.asarray(pixels_to_normalized(pixels, int(width), int(height)), dtype=np.float32)


def normalise_keypoints(keypoints: np.ndarray, widths: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """``encode_keypoints`` for a batch whose windows (or frames) come from images of different sizes.

    Args:
        keypoints: (B, ..., 2) pixels.
        widths: (B,) image widths, pixels.
        heights: (B,) image heights, pixels.

    Returns:
        (B, ..., 2) float32 screen coordinates, each item normalised by its own image size.
    """
    normalised = np.empty(keypoints.shape, dtype=np.float32)
    sizes = np.stack([widths, heights], axis=1)
    for width, height in np.unique(sizes, axis=0):
        same = (sizes[:, 0] == width) & (sizes[:, 1] == height)
        normalised[same] = encode_keypoints(keypoints[same], width, height)
    return normalised


def root_relative(joints: np.ndarray, root: int) -> np.ndarray:
    """Joints relative to joint ``root`` of each pose: (..., J, 3) -> (..., J, 3), same dtype and unit."""
    return joints - joints[..., root : root + 1, :]


def split_root(joints: np.ndarray, root: int, *, in_place: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Encode 3D joints for the model: the root-relative pose and, apart, the root trajectory.

    Args:
        joints: (..., J, 3) metres, camera frame.
        root: Root joint index of the skeleton.
        in_place: Subtract the root inside ``joints`` (saves a copy of a whole store's joints).

    Returns:
        ``(relative, trajectory)``: (..., J, 3) root-relative joints (``joints`` itself when ``in_place``) and
        (..., 3) the root's positions (a contiguous copy), both in ``joints``' dtype, metres.
    """
    trajectory = np.ascontiguousarray(joints[..., root, :])
    if in_place:
        joints -= trajectory[..., None, :]
        return joints, trajectory
    return joints - trajectory[..., None, :], trajectory


def restore_root(relative: np.ndarray, trajectory: np.ndarray) -> np.ndarray:
    """Decode: root-relative joints (..., J, 3) plus the root trajectory (..., 3) -> absolute joints (..., J, 3)."""
    return relative + trajectory[..., None, :]
