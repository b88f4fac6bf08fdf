"""What every uplifting model shares: its output type, input checks and config validation helpers.

Shape legend: ``B`` batch, ``T`` frames (or tokens), ``J`` joints, ``C`` input channels per joint.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from datasets.skeletons import get_skeleton


class LiftingOutput(NamedTuple):
    """Predictions of an uplifting model, root-relative, metres, camera frame.

    Attributes:
        sequence: ``(B, T_out, J, 3)`` float: every output frame of the window (MixSTE: all ``T`` input frames;
            Strided Transformer: all ``N`` frames; Uplift-and-Upsample: the ``N_tok`` frames at output stride).
        centre: ``(B, J, 3)`` float: the window's centre frame (a dedicated head where the model has one, the
            sequence's middle frame for seq2seq MixSTE).
    """

    sequence: torch.Tensor
    centre: torch.Tensor


def skeleton_joint_count(skeleton: str) -> int:
    """Number of joints of a named skeleton (``datasets.skeletons``), e.g. 17 for ``"h36m17"``."""
    return get_skeleton(skeleton).num_joints


def check_keypoints(keypoints: torch.Tensor, joints: int, channels: int, frames: int | None = None) -> None:
    """Reject a keypoint tensor whose shape does not fit the model, naming the expected shape.

    Args:
        keypoints: Expected ``(B, T, J, C)``.
        joints: ``J`` the model was built for.
        channels: ``C`` the model was built for.
        frames: ``T`` if the model needs an exact length, else None.
    """
    expected_frames = "T" if frames is None else str(frames)
    expected = f"(B, {expected_frames}, {joints}, {channels})"
    shape = tuple(keypoints.shape)
    if keypoints.ndim != 4 or shape[2] != joints or shape[3] != channels:
        raise ValueError(f"keypoints must be shaped {expected}, got {shape}")
    if frames is not None and shape[1] != frames:
        raise ValueError(f"keypoints must be shaped {expected} (the configured window), got {shape}")


def require_positive(name: str, value: int | float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value > 0``."""
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


def require_rate(name: str, value: float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``0 <= value < 1`` (a dropout or drop-path rate)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")


def require_divisible(name: str, width: int, heads: int) -> None:
    """Raise ``ValueError`` unless a width splits evenly over attention heads."""
    if width % heads != 0:
        raise ValueError(f"{name}={width} must be divisible by its head count {heads}")


def require_known_skeleton(skeleton: str) -> None:
    """Raise ``ValueError`` naming the skeleton unless ``datasets.skeletons`` knows it."""
    try:
        get_skeleton(skeleton)
    except (KeyError, ValueError) as error:
        raise ValueError(f"skeleton must name a datasets.skeletons skeleton, got {skeleton!r}: {error}") from error
