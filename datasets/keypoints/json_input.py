"""Small helpers the JSON keypoint readers share: loading, frame numbers from names, flat keypoint lists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from datasets.errors import reraise_if_environment
from datasets.keypoints.errors import KeypointFileError

_DIGITS = re.compile(r"\d+")


def load_json(path: Path) -> Any:
    """The parsed JSON of ``path``; a file that is not JSON is a ``KeypointFileError`` naming it."""
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reraise_if_environment(error)
        raise KeypointFileError(path, f"is not readable JSON ({type(error).__name__}: {error})") from error


def frame_number(name: str | int, path: Path) -> int:
    """A frame number from an id or a frame file's name: ``12``, ``"12.jpg"``, ``"clip_000000000012_keypoints"``.

    Names take their last run of digits (``"cam2_frame_0012.png"`` -> 12).
    """
    if isinstance(name, bool):
        raise KeypointFileError(path, f"frame id {name!r} is not a number or a frame file name")
    if isinstance(name, int | float) and float(name).is_integer():
        return int(name)
    runs = _DIGITS.findall(Path(str(name)).stem)
    if not runs:
        raise KeypointFileError(path, f"frame {name!r} has no frame number in its name")
    return int(runs[-1])


def flat_keypoints(values: Any, path: Path, where: str) -> np.ndarray:
    """(K, 3) float32 x, y, score from a flat ``[x1, y1, s1, x2, ...]`` list."""
    array = np.asarray(values, dtype=np.float32) if isinstance(values, list) else None
    if array is None or array.ndim != 1 or array.size % 3 or array.size == 0:
        raise KeypointFileError(path, f"{where}: keypoints must be a flat list of x, y, score triples")
    return array.reshape(-1, 3)


def person_id(value: Any) -> str | None:
    """A track id as text; None for absent ids and OpenPose's ``-1`` (untracked); ``[3]`` -> ``"3"``."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or (isinstance(value, int | float) and value < 0):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
