"""What ``lift`` writes for one clip: ``poses_3d.npz``, the same as ``poses_3d.json``, and ``viewer.html``.

``poses_3d.npz`` (read with ``np.load(path)``; nothing is pickled):

==================  ================  ============================================================
key                 shape, dtype      meaning
==================  ================  ============================================================
poses_3d            (T, J, 3) f32     lifted 3D joints, metres, camera frame, relative to the root
keypoints_2d        (T, J, 3) f32     the 2D that was lifted (after joint mapping and gap filling):
                                      x, y in pixels, detector score
observed            (T, J) bool       the joint was detected (False: filled over time)
frame_indices       (T,) int64        the input's own frame numbers
fps                 () f64            the input's frame rate, Hz
image_size          (2,) int64        width, height in pixels
joint_names         (J,) str          joint order (Human3.6M-17)
source              () str            the input file's name
person              () str            the track lifted ("" for single-person formats)
==================  ================  ============================================================

``poses_3d.json`` holds the same keys for readers without NumPy: arrays as nested lists, floats rounded to
``JSON_DECIMALS`` decimals (a micrometre, a millionth of a pixel), ``observed`` as booleans.

``viewer.html`` is the project's viewer (``lifting.visualization``): the lifted 3D (its root placed
``DISPLAY_DEPTH_M`` in front of a camera at the origin, only for drawing) above the 2D input in its image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.cameras import Camera, camera_to_world
from datasets.skeletons import get_skeleton
from lifting.visualization import display_rotation, frustum_segments, write_viewer
from lifting.visualization.scene import ViewScene

JSON_DECIMALS = 6
"""Decimals kept in ``poses_3d.json``: 1 micrometre for 3D, 1e-6 pixel for 2D."""
DISPLAY_DEPTH_M = 4.0
"""How far in front of the camera the viewer draws the root-relative lift (metres; for drawing only: a
single camera's 2D does not give the distance)."""


@dataclass(frozen=True)
class LiftedClip:
    """One lifted clip. ``T`` frames, ``J`` joints.

    Attributes:
        poses_3d: (T, J, 3) float32, metres, root-relative, camera frame.
        keypoints_2d: (T, J, 3) float32, pixels and score: the 2D that was lifted.
        observed: (T, J) bool, detected (False: filled).
        frame_indices: (T,) int64, the input's frame numbers.
        fps: The input's frame rate, Hz.
        image_size: (width, height), pixels.
        joint_names: (J,) joint names in array order.
        skeleton: ``datasets.skeletons`` name of that order (bones for the viewer).
        source: The input file's name.
        person: The track lifted ("" for single-person formats).
    """

    poses_3d: np.ndarray
    keypoints_2d: np.ndarray
    observed: np.ndarray
    frame_indices: np.ndarray
    fps: float
    image_size: tuple[int, int]
    joint_names: tuple[str, ...]
    skeleton: str
    source: str
    person: str = ""

    def __post_init__(self) -> None:
        """Check that every per-frame array has the same ``T`` and ``J`` (the message gives the shapes)."""
        frames, joints = self.poses_3d.shape[:2]
        shapes = {"poses_3d": (frames, joints, 3), "keypoints_2d": (frames, joints, 3), "observed": (frames, joints),
                  "frame_indices": (frames,)}  # fmt: skip
        wrong = {
            name: getattr(self, name).shape for name, shape in shapes.items() if getattr(self, name).shape != shape
        }
        if wrong or len(self.joint_names) != joints:
            raise ValueError(f"lifted clip {self.source}: inconsistent shapes {wrong or ''} for T={frames}, "
                             f"J={joints}, {len(self.joint_names)} joint names")  # fmt: skip

    def arrays(self) -> dict[str, np.ndarray]:
        """The ``poses_3d.npz`` arrays (module docstring)."""
        return {
            "poses_3d": self.poses_3d.astype(np.float32), "keypoints_2d": self.keypoints_2d.astype(np.float32),
            "observed": self.observed.astype(bool), "frame_indices": self.frame_indices.astype(np.int64),
            "fps": np.float64(self.fps), "image_size": np.asarray(self.image_size, dtype=np.int64),
            "joint_names": np.asarray(self.joint_names, dtype=str), "source": np.asarray(self.source, dtype=str),
            "person": np.asarray(self.person, dtype=str),
        }  # fmt: skip


def write_npz(path: Path, clip: LiftedClip) -> Path:
    """Write ``poses_3d.npz`` (module docstring); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(handle, **clip.arrays())
    return path


def write_json(path: Path, clip: LiftedClip) -> Path:
    """Write ``poses_3d.json``: the npz's keys, arrays as nested lists (module docstring); returns ``path``."""
    document = {}
    for name, value in clip.arrays().items():
        if value.dtype.kind == "f":
            value = np.round(value.astype(np.float64), JSON_DECIMALS)
        document[name] = value.tolist()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    return path


def lifted_scene(clip: LiftedClip, title: str) -> ViewScene:
    """The viewer's scene of a lifted clip: the 3D alone (no ground truth) above the 2D it came from."""
    width, height = clip.image_size
    nan = float("nan")
    camera = Camera("input", nan, nan, nan, nan, int(width), int(height), np.eye(3), np.zeros(3))
    rotation = display_rotation(camera)
    placed = clip.poses_3d.astype(np.float64) + np.array([0.0, 0.0, DISPLAY_DEPTH_M])
    pixels = clip.keypoints_2d[..., :2].astype(np.float32)
    outside = (pixels < 0).any(axis=-1) | (pixels[..., 0] > width) | (pixels[..., 1] > height)
    return ViewScene(
        view_id=0, title=title, sequence=clip.source, camera="input", fps=float(clip.fps), width=int(width),
        height=int(height), bones=get_skeleton(clip.skeleton).bones,
        truth=(camera_to_world(placed, camera) @ rotation.T).astype(np.float32), keypoints=pixels,
        frustum=(frustum_segments(camera) @ rotation.T).astype(np.float32), out_of_frame=outside.any(axis=-1),
        truth_label="lifted 3D",
    )  # fmt: skip


def write_clip_viewer(path: Path, clip: LiftedClip) -> Path:
    """Write ``viewer.html`` of a lifted clip (the title names the input file, escaped by the viewer)."""
    person = f", person {clip.person}" if clip.person else ""
    title = f"lift: {clip.source}{person}"
    root = get_skeleton(clip.skeleton).root
    return write_viewer(path, [lifted_scene(clip, title)], title, keypoints_name=f"2D input ({clip.source})", root=root)


def write_clip_video(path: Path, clip: LiftedClip) -> Path:
    """Write the viewer's picture of a lifted clip as a video (``.mp4`` or ``.gif``, at the input's frame rate)."""
    from lifting.visualization.video import write_video

    person = f", person {clip.person}" if clip.person else ""
    scene = lifted_scene(clip, f"lift: {clip.source}{person}")
    return write_video(path, [scene], root=get_skeleton(clip.skeleton).root, fps=clip.fps)
