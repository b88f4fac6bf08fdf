"""What ``lift`` lifts and how it runs: one declaration for the flow and the command line.

``LiftOptions`` shape the output (they are part of the version id); ``LiftRunOptions`` say where the run
happens and where copies of the optional video and BVH go (only whether a video or a BVH is made counts
for the id). Workers and the Dask address are the conversions' ``pipelines.convert.run_options.RunOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LiftOptions:
    """How a detector file is read before it is lifted.

    Attributes:
        format: Keypoint file format (docs/keypoint-formats.md); default: detected from the file.
        joint_order: Joint order of a plain .npy/.npz array (docs/keypoint-formats.md).
        fps: Frame rate of the keypoints, Hz; default: from the file, else 30.
        image_size: Width and height of the images, pixels; default: from the file.
        person: Track id to lift where a file has several people; default: the longest track.
        min_score: Joints scored below this are filled by interpolation over time.
    """

    format: str | None = None
    joint_order: str | None = None
    fps: float | None = None
    image_size: tuple[int, int] | None = None
    person: str | None = None
    min_score: float = 0.3

    def __post_init__(self) -> None:
        """Validate the values; each message names the option and the value."""
        # Imported here: the readers bring NumPy, which every command's start (``--help`` included) would pay.
        from datasets.keypoints import KEYPOINT_FORMATS, KEYPOINT_JOINT_ORDERS

        for name, known in (("format", KEYPOINT_FORMATS), ("joint_order", KEYPOINT_JOINT_ORDERS)):
            if getattr(self, name) is not None and getattr(self, name) not in known:
                raise ValueError(f"{name} must be one of {', '.join(known)}, got {getattr(self, name)!r}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.image_size is not None and min(self.image_size) < 1:
            raise ValueError(f"image_size must be two positive pixel counts, got {self.image_size}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must lie in [0, 1], got {self.min_score}")


@dataclass(frozen=True)
class LiftRunOptions:
    """What else ``lift`` writes and where it runs.

    Attributes:
        video: Also render the viewer's picture to this .mp4 or .gif (a folder of <clip>.mp4 files when
            --keypoints is a folder).
        bvh: Also write the motion as BVH to this file (a folder of <clip>.bvh files when --keypoints is a
            folder).
        device: auto (GPU when present), cpu, cuda or cuda:N.
    """

    video: Path | None = None
    bvh: Path | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        """Refuse a video name the renderer cannot write (the message names the option)."""
        if self.video is not None and Path(self.video).suffix.lower() not in ("", ".mp4", ".gif"):
            raise ValueError(f"video must end in .mp4 or .gif (or name a folder), got {self.video}")
