"""One clip of ``lift``: read a detector file, lift it, and write what the version holds for it.

``lift_clip(job)`` is the task every worker runs (in this process, forked workers or a Dask cluster, as
``preprocess-amass`` converts its files): it reads the file (``datasets.keypoints``), lifts it
(``lifting.lift``, the model loaded once per process) and returns the ``LiftedClip``, or a ``Rejection``
naming the file and why when the file cannot be lifted. ``write_clip`` writes a clip's files.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datasets.keypoints import DetectedKeypoints, KeypointFileError, read_keypoints
from datasets.views import Rejection
from pipelines.lift.options import LiftOptions

if TYPE_CHECKING:  # torch: imported by the functions that lift, so that loading the flow (serve, --help) does not
    from lifting.lift import LiftedClip, Lifter

REJECTED_REASON = "unusable_keypoints"
"""The ``rejected`` table's reason for a detector file that cannot be lifted (the detail says why)."""
CLIP_FILES = {"poses_3d": "poses_3d.npz", "poses_3d_json": "poses_3d.json", "viewer": "viewer.html"}
"""Output name -> file name of what every clip gets."""
VIDEO_STEM, DEFAULT_VIDEO_SUFFIX, BVH_FILE = "video", ".mp4", "motion.bvh"


@dataclass(frozen=True)
class ClipJob:
    """One input of a ``lift`` run and what a worker needs to lift it (picklable).

    Attributes:
        source: The detector file (or OpenPose folder).
        checkpoint: The checkpoint file, readable where the worker runs.
        model_fps: Frame rate the checkpoint was trained at, Hz.
        options: How the file is read.
        device: Where the model runs.
    """

    source: Path
    checkpoint: Path
    model_fps: float
    options: LiftOptions
    device: str = "auto"


@dataclass(frozen=True)
class LiftedResult:
    """A lifted clip and the lines to print about it (the frame rate's source, the chosen person)."""

    clip: LiftedClip
    notes: tuple[str, ...]


def read_clip(job: ClipJob) -> DetectedKeypoints:
    """The job's detector file, mapped to Human3.6M-17 and filled.

    Raises:
        KeypointFileError: the file cannot be lifted (one line naming it and why), also when its image size is
            unknown and ``--image-size`` was not given.
    """
    options = job.options
    detected = read_keypoints(
        job.source, format=options.format, joint_order=options.joint_order, person=options.person,
        min_score=options.min_score, fps=options.fps, image_size=options.image_size,
    )  # fmt: skip
    if detected.image_size is None:
        raise KeypointFileError(job.source, "the file does not give the image size; pass --image-size WIDTH HEIGHT")
    return detected


@functools.lru_cache(maxsize=2)
def _lifter(checkpoint: Path, fps: float, device: str) -> Lifter:
    """The checkpoint's model, loaded once per process."""
    from lifting.lift import load_lifter

    return load_lifter(checkpoint, fps, device)


def lift_detected(job: ClipJob, detected: DetectedKeypoints) -> LiftedResult:
    """Lift keypoints already read (``read_clip``) with the job's checkpoint."""
    from lifting.lift import LiftedClip, lift_keypoints

    lifter = _lifter(job.checkpoint, job.model_fps, job.device)
    poses = lift_keypoints(lifter, detected.keypoints, detected.fps, detected.image_size)
    clip = LiftedClip(
        poses_3d=poses, keypoints_2d=detected.keypoints, observed=detected.observed,
        frame_indices=detected.frame_indices, fps=detected.fps, image_size=detected.image_size,
        joint_names=detected.joint_names, skeleton=lifter.skeleton, source=detected.source.name,
        person=detected.person or "",
    )  # fmt: skip
    notes = []
    if detected.fps_source == "default":
        notes.append(
            f"{detected.source.name}: no frame rate in the file; assumed {detected.fps:g} Hz (--fps to set it)"
        )
    if len(detected.people) > 1:
        counts = ", ".join(f"{person} ({frames} frames)" for person, frames in detected.people.items())
        notes.append(f"{detected.source.name}: people {counts}; lifted {detected.person} (--person to choose)")
    return LiftedResult(clip, tuple(notes))


def lift_clip(job: ClipJob) -> LiftedResult | Rejection:
    """Read and lift one input; a file that cannot be lifted is a ``Rejection`` naming it and why."""
    try:
        detected = read_clip(job)
    except KeypointFileError as error:
        return Rejection(str(job.source), REJECTED_REASON, error.why)  # the path is the row's own column
    return lift_detected(job, detected)


def video_suffix(requested: Path | None) -> str | None:
    """The version's video format for ``--video``: its suffix (``.mp4``, ``.gif``), ``.mp4`` for a folder; None."""
    if requested is None:
        return None
    return Path(requested).suffix.lower() or DEFAULT_VIDEO_SUFFIX


def write_clip(folder: Path, clip: LiftedClip, video: str | None, bvh: bool) -> dict[str, Path]:
    """Write a clip's files into ``folder``; returns output name -> file.

    Every clip gets ``CLIP_FILES``; a ``video`` in the format ``video`` names (``.mp4`` or ``.gif``) and the
    ``bvh`` when asked.
    """
    from lifting.lift import write_clip_video, write_clip_viewer, write_json, write_npz

    written = {
        "poses_3d": write_npz(folder / CLIP_FILES["poses_3d"], clip),
        "poses_3d_json": write_json(folder / CLIP_FILES["poses_3d_json"], clip),
        "viewer": write_clip_viewer(folder / CLIP_FILES["viewer"], clip),
    }
    if video:
        written["video"] = write_clip_video(folder / f"{VIDEO_STEM}{video}", clip)
    if bvh:
        from lifting.export.bvh import write_bvh

        write_bvh(folder / BVH_FILE, clip.poses_3d, clip.fps, clip.joint_names)
        written["bvh"] = folder / BVH_FILE
    return written
