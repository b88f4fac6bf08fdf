"""AlphaPose results JSON (Halpe-26 or COCO-17), the input of MotionBERT's in-the-wild inference.

Fields (AlphaPose ``docs/output.md``; read as MotionBERT's ``lib/data/dataset_wild.py`` reads them): a list
with one entry per detected person per frame, ``{"image_id": "12.jpg" (the frame's file name) or 12,
"category_id": 1, "keypoints": [x1, y1, s1, ...] (26 or 17 triples; x, y pixels, s score), "score": float,
"box": [x, y, w, h], "idx": person id (an int, or a one-element list)}``. The frame number is the last run of
digits in ``image_id``. ``idx`` identifies a person across frames when AlphaPose tracks (``--pose_track``,
as MotionBERT's instructions run it); without tracking it only numbers people within a frame. 26 keypoints
are Halpe-26 (mapped as MotionBERT's ``halpe2h36m``), 17 COCO-17.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import resolve_order
from datasets.keypoints.json_input import flat_keypoints, frame_number, load_json, person_id
from datasets.keypoints.tracks import RawDetections, group_instances, instance_score, joint_count
from datasets.skeletons import get_skeleton

ALPHAPOSE_ORDERS = {26: "halpe26", 17: "coco17"}
"""Keypoint count -> joint order of AlphaPose's body models."""


def is_alphapose(data: Any) -> bool:
    """Whether parsed JSON is an AlphaPose results list (entries with ``image_id``, ``keypoints`` and ``idx``)."""
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and {"image_id", "keypoints", "idx"} <= item.keys() for item in data)
    )


def read_alphapose(path: Path, joint_order: str | None = None, data: Any = None) -> RawDetections:
    """Read AlphaPose results (see the module docstring); ``idx`` is the person id.

    Args:
        path: The JSON file.
        joint_order: Joint order, if not implied by the count (26: Halpe-26, 17: COCO-17).
        data: The parsed JSON, if already loaded.
    """
    data = load_json(path) if data is None else data
    if not is_alphapose(data):
        raise KeypointFileError(path, "is not AlphaPose results JSON (a list of image_id/keypoints/idx entries)")
    instances = []
    for n, item in enumerate(data):
        keypoints = flat_keypoints(item["keypoints"], path, f"entry {n}")
        score = instance_score(keypoints, item.get("score"))
        instances.append((person_id(item["idx"]), frame_number(item["image_id"], path), keypoints, score))
    count = joint_count(instances, path)
    if joint_order is None and count not in ALPHAPOSE_ORDERS:
        raise KeypointFileError(
            path, f"has {count} keypoints per person; AlphaPose writes 26 (Halpe-26) or 17 (COCO-17): wrong joint count"
        )
    order = resolve_order(count, None, joint_order or ALPHAPOSE_ORDERS[count], path)
    tracks, tracked = group_instances(instances, path)
    return RawDetections(joint_names=get_skeleton(order).joint_names, order=order, tracks=tracks, tracked=tracked)
