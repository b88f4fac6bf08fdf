"""VideoPose3D's custom 2D npz, as ``data/prepare_data_2d_custom.py`` writes it for in-the-wild videos.

Fields (both 0-d object arrays holding a dict; read with ``datasets.safe_npz``'s restricted unpickler):

- ``positions_2d``: ``{video name: {"custom": [keypoints (T, J, 2) float32]}}``: one array per camera (the
  custom script writes one, ``"custom"``), x, y in pixels, frame t at row t. The script has already filled
  frames without a detection by interpolation, so every frame counts as observed (score 1); NaN would mark
  a missing joint. Benchmark files (``{subject: {action: [one array per camera]}}``) read the same way.
- ``metadata``: ``{"layout_name": "coco" | "h36m", "num_joints": 17, "keypoints_symmetry": [left, right],
  "video_metadata": {video name: {"w": width, "h": height}}}``: the layout gives the joint order, the video
  metadata the image size in pixels.

A file must hold exactly one (video, camera) array; the message lists them otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import resolve_order
from datasets.keypoints.tracks import RawDetections, with_scores
from datasets.skeletons import get_skeleton
from datasets.videopose3d import POSITIONS_2D_KEY, load_positions_2d

ORDER_OF_LAYOUT = {"coco": "coco17", "h36m": "h36m17"}
"""VideoPose3D ``layout_name`` -> our joint order (``data/data_utils.py``'s ``suggest_metadata`` layouts)."""


def _arrays(positions: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(video, camera, array) for every leaf of ``{video: {camera: [arrays]}}`` or ``{video: [arrays]}``."""
    leaves = []
    for video, value in positions.items():
        groups = value.items() if isinstance(value, dict) else [("", value)]
        for group, arrays in groups:
            items = arrays if isinstance(arrays, list | tuple) else [arrays]
            leaves += [(str(video), f"{group}[{n}]" if group else str(n), a) for n, a in enumerate(items)]
    return leaves


def read_videopose3d(path: Path, joint_order: str | None = None) -> RawDetections:
    """Read a VideoPose3D custom 2D npz (see the module docstring) as one untracked person.

    Args:
        path: The ``.npz`` file.
        joint_order: Joint order when the metadata names no layout.
    """
    try:
        positions, metadata = load_positions_2d(path)
    except ValueError as error:
        raise KeypointFileError(path, f"cannot be read as a VideoPose3D 2D file ({error})") from error
    leaves = _arrays(positions)
    if len(leaves) != 1:
        names = ", ".join(f"{video}/{camera}" for video, camera, _ in leaves[:5]) or "none"
        raise KeypointFileError(
            path,
            f"{POSITIONS_2D_KEY} holds {len(leaves)} arrays ({names}); lift needs a file with one video and one camera",
        )
    video, _, array = leaves[0]
    if not isinstance(array, np.ndarray) or array.ndim != 3 or array.shape[-1] not in (2, 3) or not len(array):
        raise KeypointFileError(path, f"{POSITIONS_2D_KEY}[{video}] must be a (T, J, 2) array")
    layout = metadata.get("layout_name")
    if layout is not None and layout not in ORDER_OF_LAYOUT and joint_order is None:
        raise KeypointFileError(
            path, f"layout {layout!r} is not one of {', '.join(ORDER_OF_LAYOUT)}; give the joint order"
        )
    declared = metadata.get("num_joints")
    if declared is not None and int(declared) != array.shape[1]:
        raise KeypointFileError(path, f"metadata says {declared} joints but {video} has {array.shape[1]}")
    order = resolve_order(array.shape[1], None, joint_order or ORDER_OF_LAYOUT.get(layout), path)
    keypoints = with_scores(array)
    size = (metadata.get("video_metadata") or {}).get(video)
    return RawDetections(
        joint_names=get_skeleton(order).joint_names,
        order=order,
        tracks={None: (np.arange(len(keypoints), dtype=np.int64), keypoints)},
        tracked=False,
        image_size=(int(size["w"]), int(size["h"])) if size else None,
    )
