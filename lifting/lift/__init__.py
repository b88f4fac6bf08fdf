"""Lifting people's own 2D keypoints to 3D with a trained checkpoint, and what is written for each clip.

    from lifting.lift import LiftedClip, lift_keypoints, load_lifter, write_npz

    lifter = load_lifter(Path("checkpoint_best.pt"), fps=50.0)                 # evaluation's inference plan
    poses_3d = lift_keypoints(lifter, keypoints, fps=30.0, image_size=(1920, 1080))   # (T, 17, 3) metres

Modules: ``inference`` (resampling to the model's rate, evaluation's windows and forward pass, back to the
input's frame times), ``outputs`` (``poses_3d.npz`` / ``.json``, the viewer and the video of a clip).
"""

from lifting.lift.inference import PROGRESS_FROM_FRAMES, Lifter, lift_keypoints, load_lifter
from lifting.lift.outputs import (
    LiftedClip,
    lifted_scene,
    write_clip_video,
    write_clip_viewer,
    write_json,
    write_npz,
)

__all__ = [
    "PROGRESS_FROM_FRAMES",
    "LiftedClip",
    "Lifter",
    "lift_keypoints",
    "lifted_scene",
    "load_lifter",
    "write_clip_video",
    "write_clip_viewer",
    "write_json",
    "write_npz",
]
