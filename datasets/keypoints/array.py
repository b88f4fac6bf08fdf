"""Plain keypoint arrays: ``.npy`` or ``.npz`` holding (T, J, 2 or 3), one person, one row per frame.

Fields:

- ``.npy``: the array itself, (T, J, 2) x, y or (T, J, 3) x, y, score; x, y in pixels. Frame t is row t.
- ``.npz``: member ``keypoints`` (or the file's only member) as above, and optionally ``joint_names`` (J,)
  strings (they decide the joint order), ``fps`` (a scalar, frames per second) and ``image_size``
  (width, height in pixels).

Without a score channel every finite joint scores 1; NaN marks a missing joint. Without ``joint_names`` the
order is the ``joint_order`` option (``h36m17``, ``coco17``, ``halpe26`` or ``openpose25``); 26 or 25 joints
imply Halpe-26 or BODY_25, 17 joints need the option (COCO-17 and Human3.6M-17 both have 17). The file is
read without unpickling (object members go through ``datasets.safe_npz``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import resolve_order
from datasets.keypoints.tracks import RawDetections, with_scores
from datasets.safe_npz import npz_member_names, read_npz_member
from datasets.skeletons import get_skeleton

KEYPOINTS_MEMBER = "keypoints"


def _npz_fields(path: Path) -> tuple[np.ndarray, tuple[str, ...] | None, float | None, tuple[int, int] | None]:
    """(keypoints, joint names, fps, image size) of a plain ``.npz``."""
    members = npz_member_names(path)
    if KEYPOINTS_MEMBER in members:
        key = KEYPOINTS_MEMBER
    elif len(members) == 1:
        key = members[0]
    else:
        raise KeypointFileError(
            path,
            f"has members {members} but no {KEYPOINTS_MEMBER!r}; save the (T, J, 2|3) array as {KEYPOINTS_MEMBER!r}",
        )
    names = tuple(str(n) for n in read_npz_member(path, "joint_names").ravel()) if "joint_names" in members else None
    fps = float(read_npz_member(path, "fps")) if "fps" in members else None
    size = read_npz_member(path, "image_size").ravel() if "image_size" in members else None
    return read_npz_member(path, key), names, fps, (int(size[0]), int(size[1])) if size is not None else None


def read_array(path: Path, joint_order: str | None = None) -> RawDetections:
    """Read a plain keypoint array (see the module docstring) as one untracked person.

    Args:
        path: A ``.npy`` or ``.npz`` file.
        joint_order: The array's joint order when the file does not name its joints.

    Returns:
        ``RawDetections`` with one track (id None), frames 0..T-1.
    """
    if path.suffix.lower() == ".npz":
        array, names, fps, size = _npz_fields(path)
    else:
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise KeypointFileError(path, f"is not a plain numeric .npy array ({error})") from error
        names, fps, size = None, None, None
    if array.ndim != 3 or array.shape[-1] not in (2, 3) or not np.issubdtype(array.dtype, np.number):
        raise KeypointFileError(
            path,
            f"holds a {array.dtype} array of shape {array.shape}; expected (T, J, 2) "
            "or (T, J, 3) numbers (x, y in pixels[, score])",
        )
    if len(array) == 0:
        raise KeypointFileError(path, "no usable person: the array has no frames")
    order = resolve_order(array.shape[1], names, joint_order, path)
    keypoints = with_scores(array)
    frames = np.arange(len(keypoints), dtype=np.int64)
    return RawDetections(
        joint_names=names or get_skeleton(order).joint_names,
        order=order,
        tracks={None: (frames, keypoints)},
        tracked=False,
        fps=fps,
        image_size=size,
    )
