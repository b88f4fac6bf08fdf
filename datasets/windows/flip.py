"""Horizontal flip of windows, for in-batch augmentation and flip test-time augmentation.

Mirroring the image about its vertical centre line maps screen x to -x (``pixels_to_normalized`` puts the
image centre at x = 0) and swaps left and right joints. The 3D counterpart mirrors the camera frame,
X -> -X, with the same swap. For a distortion-free camera whose principal point is the image centre
(cx = width / 2), the flipped 2D is exactly the projection of the flipped 3D; for other cameras it is the
usual approximation (VideoPose3D, MixSTE, Uplift-and-Upsample all flip this way). Flipping twice is the
identity. Functions accept numpy arrays and torch tensors alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from datasets.array_kinds import ArrayOrTensor


def flip_poses(poses: ArrayOrTensor, flip_permutation: np.ndarray) -> ArrayOrTensor:
    """Mirror poses: negate the x channel and swap left/right joints.

    Args:
        poses: (..., J, C) with C = 2 (screen coordinates) or 3 (metres, camera frame); numpy or torch.
        flip_permutation: (J,) ``Skeleton.flip_permutation``.

    Returns:
        (..., J, C) new array/tensor of the same type, dtype and device.
    """
    if isinstance(poses, torch.Tensor):
        flipped = poses.index_select(-2, torch.as_tensor(flip_permutation, device=poses.device))
    else:
        flipped = poses[..., flip_permutation, :]  # fancy indexing copies
    flipped[..., 0] = -flipped[..., 0]
    return flipped


def _flip_points(points: ArrayOrTensor) -> ArrayOrTensor:
    """Mirror points without a joint axis: (..., 3) with x negated."""
    flipped = points.clone() if isinstance(points, torch.Tensor) else points.copy()
    flipped[..., 0] = -flipped[..., 0]
    return flipped


def flip_windows(batch: Mapping[str, Any], flip_permutation: np.ndarray) -> dict[str, Any]:
    """The mirrored copy of a batch of windows.

    Args:
        batch: ``keypoints`` (B, P, J, 2), ``joints_3d`` (B, P, J, 3) and optionally ``root`` (B, P, 3);
            other entries (masks, identities) are carried over unchanged.
        flip_permutation: (J,) ``Skeleton.flip_permutation``.

    Returns:
        A new dict; ``flip_windows(flip_windows(b, p), p)`` equals ``b``.
    """
    flipped = dict(batch)
    for key in ("keypoints", "joints_3d"):
        flipped[key] = flip_poses(batch[key], flip_permutation)
    if "root" in batch:
        flipped["root"] = _flip_points(batch["root"])
    return flipped


def append_flipped(batch: Mapping[str, Any], flip_permutation: np.ndarray) -> dict[str, Any]:
    """In-batch flip augmentation: the batch followed by its mirrored copy (second half = flipped first half).

    Args:
        batch: Windows as for ``flip_windows``, every entry with the batch on axis 0.
        flip_permutation: (J,) ``Skeleton.flip_permutation``.

    Returns:
        A dict with every entry twice as long on axis 0.
    """
    flipped = flip_windows(batch, flip_permutation)
    joined = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            joined[key] = torch.cat([value, flipped[key]], dim=0)
        else:
            joined[key] = np.concatenate([value, flipped[key]], axis=0)
    return joined
