"""Detector joint orders -> Human3.6M-17, declared once as data: each H36M joint averages named source joints.

``H36M17_FROM[order][k]`` lists the joints of ``order`` whose mean (x, y) gives Human3.6M-17 joint ``k``
(``datasets.skeletons.H36MJoint``); the derived joint's score is the minimum of its parts' scores, so a joint
built from one missed part counts as missed. Sources, per order:

- ``coco17``: mmpose's ``convert_keypoint_definition`` (``mmpose/apis/inference_3d.py``, case ``'coco'``):
  pelvis = mid-hip, thorax = mid-shoulder, spine = mid(pelvis, thorax) (the mean of the two hips and the two
  shoulders, which is the same point), neck/nose = nose, head = mid-eye; limbs by name.
- ``halpe26``: MotionBERT's ``halpe2h36m`` (``lib/data/dataset_wild.py``): pelvis = Halpe's ``hip``, thorax =
  ``neck``, spine = mid(neck, hip), neck/nose = nose, head = Halpe's ``head``; limbs by name.
- ``openpose25``: ours, in the spirit of ``halpe2h36m`` (BODY_25 has ``mid_hip`` and ``neck`` as Halpe has
  ``hip`` and ``neck``, but no head top): pelvis = ``mid_hip``, thorax = ``neck``, spine = mid(neck, mid_hip),
  neck/nose = nose, head = mid-eye as in mmpose's COCO rule.
- ``h36m17``: identity.

Usage::

    order = order_for_names(names, path)           # which table the file's joint names fit
    mapped = map_to_h36m17(keypoints, names, order)  # (..., J, 3) -> (..., 17, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np

from datasets.keypoints.errors import KeypointFileError
from datasets.skeletons import get_skeleton

H36M17 = get_skeleton("h36m17")
_LIMBS = tuple(
    f"{side}_{part}" for side in ("right", "left") for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")
)


def _table(**torso_and_head: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """Parts per H36M joint, in H36M order: the named torso/head joints as given, every limb joint by its name."""
    parts = {**{name: (name,) for name in _LIMBS}, **torso_and_head}
    return tuple(parts[name] for name in H36M17.joint_names)


H36M17_FROM: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType(
    {
        "h36m17": tuple((name,) for name in H36M17.joint_names),
        "halpe26": _table(
            pelvis=("hip",), spine=("neck", "hip"), thorax=("neck",), neck_nose=("nose",), head_top=("head",)
        ),
        "openpose25": _table(
            pelvis=("mid_hip",),
            spine=("neck", "mid_hip"),
            thorax=("neck",),
            neck_nose=("nose",),
            head_top=("left_eye", "right_eye"),
        ),
        "coco17": _table(
            pelvis=("left_hip", "right_hip"),
            spine=("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
            thorax=("left_shoulder", "right_shoulder"),
            neck_nose=("nose",),
            head_top=("left_eye", "right_eye"),
        ),
    }
)
"""Source order -> for each Human3.6M-17 joint (in order), the source joint names it averages. Tried in this
order when a file names its joints: the first order whose parts are all among the names is used."""

KEYPOINT_JOINT_ORDERS = tuple(H36M17_FROM)
"""Joint orders a detector file may be in (skeleton names of ``datasets.skeletons``)."""


def normalise_joint_name(name: str) -> str:
    """A joint name in our spelling: ``"LShoulder"``, ``"l_shoulder"``, ``"Left Shoulder"`` -> ``"left_shoulder"``."""
    text = str(name).strip()
    for short, side in (("L", "left_"), ("R", "right_")):
        if len(text) > 1 and text[0] == short and text[1].isupper():
            text = side + text[1:]
    text = "".join(f"_{c.lower()}" if c.isupper() else c for c in text).lower()
    text = text.replace(" ", "_").replace("-", "_").replace(".", "_")
    while "__" in text:
        text = text.replace("__", "_")
    text = text.strip("_")
    for short, side in (("l_", "left_"), ("r_", "right_")):
        if text.startswith(short):
            text = side + text[len(short) :]
    return text


def order_for_names(names: Sequence[str], path: Path | str) -> str:
    """The joint order whose mapping the file's joint ``names`` satisfy (names decide, not their count).

    Raises:
        KeypointFileError: No order's parts are all among ``names``; the message lists what is missing.
    """
    present = {normalise_joint_name(n) for n in names}
    for order, parts in H36M17_FROM.items():
        if all(part in present for joint in parts for part in joint):
            return order
    needed = {order: sorted({p for joint in parts for p in joint} - present) for order, parts in H36M17_FROM.items()}
    closest = min(needed, key=lambda order: len(needed[order]))
    raise KeypointFileError(
        path,
        f"its joint names {sorted(present)} cannot be mapped to Human3.6M-17: the closest order, {closest}, "
        f"also needs {needed[closest]} (known orders: {', '.join(H36M17_FROM)}); rename the joints or save "
        "them in one of these orders",
    )


def resolve_order(
    count: int, names: Sequence[str] | None, joint_order: str | None, path: Path | str, default: str | None = None
) -> str:
    """The joint order of a file with ``count`` joints per person.

    Decided by, in turn: the file's joint ``names`` (``order_for_names``); the ``joint_order`` option; the
    format's ``default`` order; the count where only one order has it (26: Halpe-26, 25: BODY_25).

    Raises:
        KeypointFileError: The names do not match the count, the option or the default has another joint
            count (a wrong joint count), or the count alone is ambiguous (17) or fits no order.
    """
    if names is not None:
        if len(names) != count:
            raise KeypointFileError(path, f"names {len(names)} joints but holds {count} per person")
        return order_for_names(names, path)
    for given in (joint_order, default):
        if given is None:
            continue
        if given not in H36M17_FROM:
            raise KeypointFileError(path, f"joint order {given!r} is not one of {', '.join(H36M17_FROM)}")
        expected = get_skeleton(given).num_joints
        if count != expected:
            raise KeypointFileError(
                path, f"has {count} joints per person but joint order {given} has {expected}; wrong joint count"
            )
        return given
    implied = [order for order in H36M17_FROM if get_skeleton(order).num_joints == count]
    if len(implied) == 1:
        return implied[0]
    if not implied:
        counts = ", ".join(f"{order}: {get_skeleton(order).num_joints}" for order in H36M17_FROM)
        raise KeypointFileError(path, f"has {count} joints per person, which no known order has ({counts})")
    raise KeypointFileError(
        path,
        f"has {count} joints per person, which fits {' and '.join(implied)}; give the joint order "
        "or name the joints in the file",
    )


def map_to_h36m17(keypoints: np.ndarray, names: Sequence[str], order: str) -> np.ndarray:
    """Map keypoints named ``names`` to Human3.6M-17 with the ``order`` table.

    Args:
        keypoints: (..., J, 3) float: x, y in pixels, score; NaN where a joint is missing.
        names: J joint names of ``keypoints`` (any spelling ``normalise_joint_name`` reads).
        order: A key of ``H36M17_FROM`` whose parts are all among ``names``.

    Returns:
        (..., 17, 3) float32: x, y the mean of the parts; score the minimum of the parts' scores (NaN if any
        part is NaN).
    """
    index = {normalise_joint_name(n): j for j, n in enumerate(names)}
    mapped = np.empty(keypoints.shape[:-2] + (H36M17.num_joints, 3), dtype=np.float32)
    for k, parts in enumerate(H36M17_FROM[order]):
        columns = keypoints[..., [index[p] for p in parts], :]
        mapped[..., k, :2] = columns[..., :2].mean(axis=-2)
        mapped[..., k, 2] = columns[..., 2].min(axis=-1)
    return mapped
