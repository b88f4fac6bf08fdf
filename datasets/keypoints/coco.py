"""COCO keypoint JSON: detector results (a list) or a dataset file (``images``/``annotations``/``categories``).

Fields (https://cocodataset.org/#format-results, "Keypoint Detection"):

- Results: a list of ``{"image_id": int, "category_id": 1, "keypoints": [x1, y1, s1, ..., x17, y17, s17],
  "score": float}``; x, y in pixels of the image, s the keypoint's score. ``track_id`` (PoseTrack's and
  trackers' extension) is the person id where present. ``image_id`` is taken as the frame number.
- Dataset: ``{"images": [{"id", "width", "height", "frame_id"?}], "annotations": [{"image_id", "keypoints",
  "score"?, "track_id"?}], "categories": [{"keypoints": [names]}]}``. The frame number is the image's
  ``frame_id`` where given, else its ``id``; the image size is the images' ``width``/``height`` when all agree.
  In annotations the third value is a visibility flag (0 not labelled, 1 occluded, 2 visible), read as a
  score: 0 is missing and filled.

The category's ``keypoints`` names decide the joint order where present; otherwise the order is COCO-17
(or the ``joint_order`` option). Files without ``track_id`` are one person: where a frame holds several,
the highest ``score`` is kept (``tracks``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import resolve_order
from datasets.keypoints.json_input import flat_keypoints, frame_number, load_json, person_id
from datasets.keypoints.tracks import RawDetections, group_instances, instance_score, joint_count
from datasets.skeletons import get_skeleton


def is_coco(data: Any) -> bool:
    """Whether parsed JSON looks like COCO results or a COCO dataset file (not AlphaPose's, which has ``idx``)."""
    if isinstance(data, dict):
        return isinstance(data.get("annotations"), list)
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and "image_id" in item and "keypoints" in item for item in data)
        and not any("idx" in item for item in data)
    )


def _images(data: dict[str, Any], path: Path) -> tuple[dict[Any, int], tuple[int, int] | None]:
    """Image id -> frame number, and the image size when every image states the same one."""
    images = data.get("images") or []
    frames = {image["id"]: frame_number(image.get("frame_id", image["id"]), path) for image in images}
    sizes = {(image.get("width"), image.get("height")) for image in images}
    size = next(iter(sizes)) if len(sizes) == 1 else None
    return frames, size if size is not None and None not in size else None


def _names(data: dict[str, Any]) -> list[str] | None:
    """The keypoint names of the (first) category that has them."""
    for category in data.get("categories") or []:
        if category.get("keypoints"):
            return list(category["keypoints"])
    return None


def read_coco(path: Path, joint_order: str | None = None, data: Any = None) -> RawDetections:
    """Read COCO keypoint results or a COCO dataset file (see the module docstring).

    Args:
        path: The JSON file.
        joint_order: Joint order when the file names none (default COCO-17).
        data: The parsed JSON, if already loaded.
    """
    data = load_json(path) if data is None else data
    if not is_coco(data):
        raise KeypointFileError(path, "is not COCO keypoint JSON (a list of results or images/annotations)")
    names, frames, size = None, {}, None
    items = data
    if isinstance(data, dict):
        names, items = _names(data), data["annotations"]
        frames, size = _images(data, path)
    instances = []
    for n, item in enumerate(items):
        keypoints = flat_keypoints(item.get("keypoints"), path, f"entry {n}")
        frame = frames.get(item["image_id"]) if item["image_id"] in frames else frame_number(item["image_id"], path)
        score = instance_score(keypoints, item.get("score"))
        instances.append((person_id(item.get("track_id")), frame, keypoints, score))
    order = resolve_order(joint_count(instances, path), names, joint_order, path, default=None if names else "coco17")
    tracks, tracked = group_instances(instances, path)
    return RawDetections(
        joint_names=tuple(names) if names else get_skeleton(order).joint_names,
        order=order,
        tracks=tracks,
        tracked=tracked,
        image_size=size,
    )
