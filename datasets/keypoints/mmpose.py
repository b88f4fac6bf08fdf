"""mmpose's 2D pose output: its inferencer's predictions and the JSON its demos write.

Fields (mmpose 1.x, ``mmpose/apis/inferencers/base_mmpose_inferencer.py`` and ``split_instances`` in
``mmpose/structures/utils.py``): every person is an *instance* ``{"keypoints": [[x, y], ...] (K, 2) pixels,
"keypoint_scores": [s, ...] (K,), "bbox": [[x1, y1, x2, y2]] pixels, "bbox_score": float, "track_id"?: int}``.
Frames come as any of:

- ``{"meta_info": {..., "keypoint_id2name": {"0": "nose", ...}}, "instance_info": [{"frame_id": int,
  "instances": [...]}, ...]}``: ``demo/topdown_demo_with_mmdet.py --save-predictions``;
- ``[{"frame_id": int, "instances": [...]}, ...]``: the inferencer's ``pred_out_dir`` file for a video;
- ``[{"predictions": [[instance, ...]]}, ...]`` or ``[[instance, ...], ...]``: the inferencer's results
  collected per frame (the frame number is the position in the list).

``keypoint_id2name`` decides the joint order where present; otherwise it is COCO-17 (mmpose's default body
model) or the ``joint_order`` option. ``track_id`` (mmpose's 3D inferencer tracks people) is the person id;
without it the highest ``bbox_score`` (else mean keypoint score) of each frame is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import resolve_order
from datasets.keypoints.json_input import frame_number, load_json, person_id
from datasets.keypoints.tracks import RawDetections, group_instances, instance_score, joint_count
from datasets.skeletons import get_skeleton


def _frames(data: Any) -> list[tuple[Any, list[Any]]] | None:
    """(frame id, instances) per frame for each layout above, or None when ``data`` is none of them."""
    if isinstance(data, dict) and isinstance(data.get("instance_info"), list):
        data = data["instance_info"]
    if not isinstance(data, list) or not data:
        return None
    if all(isinstance(f, dict) and "instances" in f for f in data):
        return [(f.get("frame_id", n), f["instances"]) for n, f in enumerate(data)]
    if all(isinstance(f, dict) and "predictions" in f for f in data):
        return [(n, [i for batch in f["predictions"] for i in batch]) for n, f in enumerate(data)]
    if all(isinstance(f, list) and all(isinstance(i, dict) and "keypoint_scores" in i for i in f) for f in data):
        return list(enumerate(data))
    return None


def is_mmpose(data: Any) -> bool:
    """Whether parsed JSON is one of mmpose's layouts (see the module docstring)."""
    return _frames(data) is not None


def _instance(instance: Any, path: Path, where: str) -> tuple[np.ndarray, float]:
    """(K, 3) x, y, score and the instance's score from one mmpose instance."""
    try:
        xy = np.asarray(instance["keypoints"], dtype=np.float32)
        scores = np.asarray(instance["keypoint_scores"], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as error:
        raise KeypointFileError(path, f"{where}: needs keypoints (K, 2) and keypoint_scores (K,) ({error})") from None
    if xy.ndim != 2 or xy.shape[1] != 2 or scores.shape != (len(xy),):
        raise KeypointFileError(
            path, f"{where}: keypoints {xy.shape} and keypoint_scores {scores.shape} must be (K, 2) and (K,)"
        )
    keypoints = np.concatenate([xy, scores[:, None]], axis=1)
    return keypoints, instance_score(keypoints, instance.get("bbox_score"))


def read_mmpose(path: Path, joint_order: str | None = None, data: Any = None) -> RawDetections:
    """Read mmpose predictions in any layout of the module docstring.

    Args:
        path: The JSON file.
        joint_order: Joint order when the file names none (default COCO-17).
        data: The parsed JSON, if already loaded.
    """
    data = load_json(path) if data is None else data
    frames = _frames(data)
    if frames is None:
        raise KeypointFileError(path, "is not mmpose output (instance_info, frame_id/instances or predictions)")
    meta = data.get("meta_info") if isinstance(data, dict) else None
    id2name = (meta or {}).get("keypoint_id2name")
    names = [id2name[k] for k in sorted(id2name, key=int)] if id2name else None
    instances = []
    for frame, people in frames:
        for n, instance in enumerate(people):
            keypoints, score = _instance(instance, path, f"frame {frame}, instance {n}")
            instances.append((person_id(instance.get("track_id")), frame_number(frame, path), keypoints, score))
    order = resolve_order(joint_count(instances, path), names, joint_order, path, default=None if names else "coco17")
    tracks, tracked = group_instances(instances, path)
    return RawDetections(
        joint_names=tuple(names) if names else get_skeleton(order).joint_names,
        order=order,
        tracks=tracks,
        tracked=tracked,
    )
