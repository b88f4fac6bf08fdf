"""OpenPose BODY_25 JSON: one file per frame (``--write_json``), a folder of them per clip.

Fields (OpenPose ``doc/02_output.md``): each ``<name>_<frame:012d>_keypoints.json`` holds ``{"version": 1.3,
"people": [{"person_id": [-1], "pose_keypoints_2d": [x1, y1, c1, ..., x25, y25, c25], ...}]}``: x, y in
pixels, c the confidence in [0, 1]; a joint not found is ``0, 0, 0`` (so it scores 0 and is filled). The frame
number is the last run of digits before ``_keypoints`` in the file name. ``person_id`` is ``[-1]`` unless
OpenPose tracks people; untracked frames with several people keep the one with the highest mean confidence.
Only BODY_25 (25 keypoints, with ``MidHip`` and ``Neck``) is read; OpenPose's COCO-18 model is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import resolve_order
from datasets.keypoints.json_input import flat_keypoints, frame_number, load_json, person_id
from datasets.keypoints.tracks import RawDetections, group_instances, instance_score
from datasets.skeletons import get_skeleton

OPENPOSE_SUFFIX = "_keypoints.json"
"""How OpenPose names its per-frame files: ``<video>_<frame:012d>_keypoints.json``."""


def is_openpose(data: Any) -> bool:
    """Whether parsed JSON is one OpenPose frame (a dict with a ``people`` list)."""
    return isinstance(data, dict) and isinstance(data.get("people"), list)


def openpose_frames(path: Path) -> list[Path]:
    """The per-frame files of an OpenPose folder (or ``[path]`` for one file), in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.name.endswith(OPENPOSE_SUFFIX) and p.is_file())
    return [path]


def read_openpose(path: Path, joint_order: str | None = None) -> RawDetections:
    """Read an OpenPose folder of per-frame files (or one such file).

    Args:
        path: The folder (or a single ``*_keypoints.json``).
        joint_order: Accepted for symmetry with the other readers; must be ``openpose25`` if given.
    """
    files = openpose_frames(path)
    if not files:
        raise KeypointFileError(path, f"no usable person: the folder holds no *{OPENPOSE_SUFFIX} files")
    instances = []
    for file in files:
        data = load_json(file)
        if not is_openpose(data):
            raise KeypointFileError(file, "is not an OpenPose frame (no people list)")
        frame = frame_number(file.name.removesuffix(OPENPOSE_SUFFIX), file)
        for n, person in enumerate(data["people"]):
            keypoints = flat_keypoints(person.get("pose_keypoints_2d"), file, f"person {n}")
            resolve_order(len(keypoints), None, joint_order, file, default="openpose25")
            instances.append((person_id(person.get("person_id")), frame, keypoints, instance_score(keypoints, None)))
    if not instances:
        raise KeypointFileError(path, f"no usable person: none of its {len(files)} frames holds a person")
    tracks, tracked = group_instances(instances, path)
    return RawDetections(
        joint_names=get_skeleton("openpose25").joint_names, order="openpose25", tracks=tracks, tracked=tracked
    )
