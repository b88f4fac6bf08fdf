"""What a keypoint reader hands back: one person's 2D keypoints in Human3.6M-17, filled over gaps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_FPS = 30.0
"""Frame rate assumed when neither the file nor the caller gives one (``fps_source == "default"``)."""
FPS_SOURCES = ("file", "option", "default")


@dataclass(frozen=True)
class DetectedKeypoints:
    """One person's 2D keypoints from one detector file, mapped to Human3.6M-17 and filled over gaps.

    Attributes:
        keypoints: (T, 17, 3) float32: x, y in pixels, detector score; Human3.6M-17 joint order of
            ``datasets.skeletons``. Where ``observed`` is False, x and y are interpolated over time (edges
            held) and the score is the detector's (below ``min_score``) or 0 where the person was missing.
        observed: (T, 17) bool: True where the joint was detected with score >= min_score.
        frame_indices: (T,) int64: the input's own frame numbers, sorted and consecutive (missing frames filled).
        fps: The input's frame rate, frames per second.
        fps_source: ``"file"``, ``"option"`` or ``"default"`` (``DEFAULT_FPS``; the caller prints a note).
        image_size: (width, height) in pixels, from the file or the option; None if unknown.
        source: The file (or OpenPose folder) read.
        format: One of ``KEYPOINT_FORMATS``.
        person: The chosen track/person id (None for single-person formats and untracked files).
        people: Every track id in the file -> number of frames it appears in (empty when untracked).
        joint_names: The 17 Human3.6M joint names, in order.
    """

    keypoints: np.ndarray
    observed: np.ndarray
    frame_indices: np.ndarray
    fps: float
    fps_source: str
    image_size: tuple[int, int] | None
    source: Path
    format: str
    person: str | None
    people: Mapping[str, int]
    joint_names: tuple[str, ...]

    def __post_init__(self) -> None:
        count = len(self.frame_indices)
        if self.keypoints.shape != (count, len(self.joint_names), 3):
            raise ValueError(
                f"keypoints must be (T, {len(self.joint_names)}, 3) with T={count}, got {self.keypoints.shape}"
            )
        if self.observed.shape != self.keypoints.shape[:2] or self.observed.dtype != np.bool_:
            raise ValueError(
                f"observed must be bool {self.keypoints.shape[:2]}, got {self.observed.dtype} {self.observed.shape}"
            )
        if self.fps_source not in FPS_SOURCES:
            raise ValueError(f"fps_source must be one of {FPS_SOURCES}, got {self.fps_source!r}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        """T, the number of frames (missing ones included)."""
        return len(self.frame_indices)
