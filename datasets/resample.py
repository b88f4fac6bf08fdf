"""Resampling per-frame positions to a target frame rate by linear interpolation (AMASS to 50 Hz, evaluation).

A source sequence of T frames at ``source_fps`` lasts ``T / source_fps`` seconds; the resampled sequence has
``floor(T / source_fps * target_fps)`` frames at times ``i / target_fps``. Output frame i lies at source
position ``s = i * source_fps / target_fps`` and is interpolated between the two nearest source frames
``floor(s)`` and ``floor(s) + 1`` (the last source frame is held for the final fraction of a frame).

We interpolate joint *positions* (after the body model), as AMASS-to-3DHPE does for uplift-upsample's 50 Hz
data (docs/formats.md 4.5), rather than pose parameters: positions are what the store holds, linear interpolation
of positions is exact for the constant-velocity motion between two frames, and it needs the body model only
at the source frames the output touches. Its one cost, bone shortening on a chord, is below
``L * (w dt)^2 / 8`` (0.3 mm for a 0.4 m bone turning at 10 rad/s sampled at 120 Hz).

This is the project's one linear interpolation of per-frame positions in time: the evaluation
(``lifting.evaluation.inference``) upsamples a model's centre poses, a sequence at ``1 / s_out`` of the frame
rate, to every frame with ``resample(centres, 1.0, s_out)``.

    >>> plan = resampling_plan(5, 100.0, 50.0)
    >>> plan.frames, plan.lower.tolist(), plan.weight.tolist()
    (2, [0, 2], [0.0, 0.0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FRAME_COUNT_TOLERANCE = 1e-9
"""Relative slack in ``floor(duration * fps)`` so that float rounding of an exact integer (e.g. 59.9999999)
does not lose a frame."""


@dataclass(frozen=True)
class ResamplingPlan:
    """Which source frames make each output frame, and with what weight.

    Attributes:
        lower: (T_out,) int64, the source frame at or before each output time.
        upper: (T_out,) int64, the source frame after it (``lower`` itself where ``weight`` is 0).
        weight: (T_out,) float64 in [0, 1), the weight of ``upper``; ``lower`` gets ``1 - weight``.
    """

    lower: np.ndarray
    upper: np.ndarray
    weight: np.ndarray

    @property
    def frames(self) -> int:
        """Output frame count T_out."""
        return len(self.lower)

    @property
    def source_frames(self) -> np.ndarray:
        """(U,) int64, sorted unique source frames the output needs (only these must be computed)."""
        return np.unique(np.concatenate([self.lower, self.upper]))


def resampled_frame_count(frames: int, source_fps: float, target_fps: float) -> int:
    """``floor(frames / source_fps * target_fps)``, robust to float rounding of exact integers.

    Args:
        frames: Source frame count T >= 0.
        source_fps: Source rate, Hz, > 0.
        target_fps: Target rate, Hz, > 0.

    Returns:
        The output frame count.
    """
    if source_fps <= 0 or target_fps <= 0 or not (math.isfinite(source_fps) and math.isfinite(target_fps)):
        raise ValueError(f"frame rates must be finite and positive, got {source_fps} -> {target_fps}")
    exact = frames * target_fps / source_fps
    return int(math.floor(exact * (1.0 + FRAME_COUNT_TOLERANCE)))


def resampling_plan(frames: int, source_fps: float, target_fps: float) -> ResamplingPlan:
    """Plan the resampling of ``frames`` source frames at ``source_fps`` to ``target_fps``.

    Args:
        frames: Source frame count T.
        source_fps: Source rate, Hz (any positive value: 60, 59.94, 120.0000458...).
        target_fps: Target rate, Hz.

    Returns:
        The plan, ``resampled_frame_count`` frames long (possibly 0).
    """
    count = resampled_frame_count(frames, source_fps, target_fps)
    position = np.arange(count) * source_fps / target_fps
    last = max(frames - 1, 0)
    lower = np.minimum(np.floor(position).astype(np.int64), last)
    weight = np.where(lower < last, position - lower, 0.0)
    upper = np.where(weight > 0.0, np.minimum(lower + 1, last), lower)
    return ResamplingPlan(lower=lower, upper=upper, weight=weight)


def apply_plan(plan: ResamplingPlan, values: np.ndarray, source_frames: np.ndarray | None = None) -> np.ndarray:
    """Interpolate per-frame values with a plan.

    Args:
        plan: From ``resampling_plan``.
        values: (T, ...) values at all source frames, or (U, ...) at ``source_frames`` only.
        source_frames: (U,) the source frame of each row of ``values`` (``plan.source_frames``), or None when
            ``values`` holds every source frame.

    Returns:
        (T_out, ...) float64 interpolated values.
    """
    lower, upper = plan.lower, plan.upper
    if source_frames is not None:
        lower, upper = np.searchsorted(source_frames, lower), np.searchsorted(source_frames, upper)
    weight = plan.weight.reshape((-1,) + (1,) * (values.ndim - 1))
    values = np.asarray(values, dtype=np.float64)
    return values[lower] * (1.0 - weight) + values[upper] * weight


def resample(values: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Resample (T, ...) per-frame positions from ``source_fps`` to ``target_fps`` (float64 result)."""
    return apply_plan(resampling_plan(len(values), source_fps, target_fps), values)
