"""Named joint orders (skeletons) of every source, and the tables that convert between them.

Each skeleton is data: joint names, parent indices and, where a paper defines them, MixSTE's joint groups.
Left/right pairs and the flip permutation are derived from the names (``left_x`` <-> ``right_x``), so they
cannot drift from the joint order. Conversions between orders are data too: ``JOINT_CORRESPONDENCES`` lists,
for each (source, target) pair, the source joint name that fills each target joint.

    >>> from datasets.skeletons import H36MJoint, convert_joints, get_skeleton
    >>> get_skeleton("h36m17").index("left_wrist") == H36MJoint.LEFT_WRIST == 13
    True
    >>> import numpy as np
    >>> convert_joints(np.zeros((5, 32, 3)), "h36m32", "h36m17").shape
    (5, 17, 3)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from types import MappingProxyType

import numpy as np

from datasets.array_kinds import ArrayOrTensor, torch_if_tensor
from datasets.joint_orders import (
    COCO17_NAMES,
    COCO17_PARENTS,
    H36M32_NAMES,
    H36M32_PARENTS,
    HALPE26_NAMES,
    HALPE26_PARENTS,
    HUMANEVA15_NAMES,
    MPI_INF_3DHP17_NAMES,
    MPI_INF_3DHP28_NAMES,
    OPENPOSE25_NAMES,
    OPENPOSE25_PARENTS,
    SMPL_BODY_NAMES,
    SMPL_BODY_PARENTS,
    hand_joints,
)

JOINT_GROUPS = ("torso", "head", "middle_limb", "terminal_limb")
"""MixSTE's joint groups for the weighted MPJPE (MixSTE, Sec. 4.1 "Implementation Details")."""

JOINT_GROUP_WEIGHTS: Mapping[str, float] = MappingProxyType(
    # MixSTE, Sec. 4.1: "torso, head, middle limb, and terminal limb" with "(1.0, 1.5, 2.5, and 4.0,
    # respectively)".
    {"torso": 1.0, "head": 1.5, "middle_limb": 2.5, "terminal_limb": 4.0}
)
"""WMPJPE weight per joint group, as the MixSTE paper states them."""

MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS = (
    1.0, 1.0, 2.5, 2.5, 1.0, 2.5, 2.5, 1.0, 1.0, 1.0, 1.5, 1.5, 4.0, 4.0, 1.5, 4.0, 4.0,
)  # fmt: skip
"""Per-joint WMPJPE weights hard-coded in MixSTE's released training script (``run.py``), h36m17 order.

They do not follow the paper's groups: knees and ankles both get 2.5, shoulders and the head top 1.5,
elbows and wrists 4.0, the nose 1.0. Use them to reproduce the released numbers; ``joint_group_weights``
gives the paper's grouping.
"""

_SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")
_LEFT, _RIGHT = "left_", "right_"


@dataclass(frozen=True)
class Skeleton:
    """A named joint order with its kinematic tree.

    Attributes:
        name: Registry key, e.g. ``"h36m17"``.
        joint_names: One snake_case name per joint; sides spelled with ``left_``/``right_`` prefixes.
        parents: Parent index per joint, ``-1`` for the root.
        joint_groups: Per joint one of ``JOINT_GROUPS`` (MixSTE's WMPJPE groups), or empty if undefined.
        root: Index of the root joint (its parent is ``-1``).
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    joint_groups: tuple[str, ...] = ()
    root: int = 0

    def __post_init__(self) -> None:
        count = len(self.joint_names)
        if len(self.parents) != count:
            raise ValueError(f"{self.name}: needs one parent per joint, got {len(self.parents)} for {count}")
        if self.joint_groups and len(self.joint_groups) != count:
            raise ValueError(
                f"{self.name}: joint_groups must be empty or one per joint, got {len(self.joint_groups)} for {count}"
            )
        unknown_groups = sorted(set(self.joint_groups) - set(JOINT_GROUPS))
        if unknown_groups:
            raise ValueError(f"{self.name}: joint groups must be among {JOINT_GROUPS}, got {unknown_groups}")
        bad_names = [n for n in self.joint_names if not _SNAKE_CASE.match(n)]
        if bad_names:
            raise ValueError(f"{self.name}: joint names must be snake_case, got {bad_names}")
        if len(set(self.joint_names)) != count:
            duplicates = sorted({n for n in self.joint_names if self.joint_names.count(n) > 1})
            raise ValueError(f"{self.name}: joint names must be unique, duplicated {duplicates}")
        roots = [j for j, p in enumerate(self.parents) if p == -1]
        if roots != [self.root]:
            raise ValueError(f"{self.name}: needs one root (parent -1) at root={self.root}, got {roots}")
        for joint, parent in enumerate(self.parents):
            if parent == joint or (parent != -1 and not 0 <= parent < count):
                raise ValueError(f"{self.name}: parent of joint {joint} must be another joint, got {parent}")
        for joint in range(count):
            self._check_reaches_root(joint)
        names = set(self.joint_names)
        for joint_name in self.joint_names:
            counterpart = _mirror_name(joint_name)
            if counterpart != joint_name and counterpart not in names:
                raise ValueError(f"{self.name}: {joint_name!r} has no mirror joint {counterpart!r}")

    def _check_reaches_root(self, joint: int) -> None:
        """Raise ValueError unless following parents from ``joint`` ends at the root (no cycle)."""
        current = joint
        for _ in range(len(self.parents)):
            if current == self.root:
                return
            current = self.parents[current]
        raise ValueError(f"{self.name}: parents of joint {joint} form a cycle and never reach the root")

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """Return the index of the joint called ``name``; KeyError naming the skeleton if absent."""
        try:
            return self.joint_names.index(name)
        except ValueError:
            known = ", ".join(self.joint_names)
            raise KeyError(f"{self.name} has no joint {name!r}; joints: {known}") from None

    @property
    def left_indices(self) -> tuple[int, ...]:
        """Indices of the ``left_`` joints, ascending."""
        return tuple(j for j, n in enumerate(self.joint_names) if n.startswith(_LEFT))

    @property
    def right_indices(self) -> tuple[int, ...]:
        """Indices of the ``right_`` joints, paired with ``left_indices`` (element i mirrors element i)."""
        return tuple(self.index(_mirror_name(self.joint_names[j])) for j in self.left_indices)

    @property
    def flip_permutation(self) -> np.ndarray:
        """(J,) int64: ``poses[..., flip_permutation, :]`` swaps every ``left_x`` with ``right_x``."""
        return np.array([self.index(_mirror_name(n)) for n in self.joint_names], dtype=np.int64)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) index pairs, one per non-root joint, in child order."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p != -1)


def _mirror_name(name: str) -> str:
    """Return the mirror joint's name (``left_x`` <-> ``right_x``); unsided names are their own mirror."""
    if name.startswith(_LEFT):
        return _RIGHT + name[len(_LEFT) :]
    if name.startswith(_RIGHT):
        return _LEFT + name[len(_RIGHT) :]
    return name


def joint_group_weights(skeleton: Skeleton, group_weights: Mapping[str, float] = JOINT_GROUP_WEIGHTS) -> np.ndarray:
    """Per-joint weights from the skeleton's joint groups.

    Args:
        skeleton: A skeleton with ``joint_groups`` defined.
        group_weights: Weight per group name; defaults to MixSTE's (Sec. 4.1).

    Returns:
        (J,) float32 weights.
    """
    if not skeleton.joint_groups:
        raise ValueError(f"{skeleton.name} defines no joint_groups, so group weights cannot be assigned")
    return np.array([group_weights[g] for g in skeleton.joint_groups], dtype=np.float32)


class H36MJoint(IntEnum):
    """Joints of the standard 17-joint Human3.6M order (VideoPose3D / Martinez)."""

    PELVIS = 0
    RIGHT_HIP = 1
    RIGHT_KNEE = 2
    RIGHT_ANKLE = 3
    LEFT_HIP = 4
    LEFT_KNEE = 5
    LEFT_ANKLE = 6
    SPINE = 7
    THORAX = 8
    NECK_NOSE = 9
    HEAD_TOP = 10
    LEFT_SHOULDER = 11
    LEFT_ELBOW = 12
    LEFT_WRIST = 13
    RIGHT_SHOULDER = 14
    RIGHT_ELBOW = 15
    RIGHT_WRIST = 16


def _groups(names: Sequence[str], assignment: Mapping[str, str]) -> tuple[str, ...]:
    """Look up each joint's group; ``assignment`` keys are names with the side prefix removed."""
    return tuple(assignment[n.removeprefix(_LEFT).removeprefix(_RIGHT)] for n in names)


# Joint groups as MixSTE's paper names them (Sec. 4.1 and supplementary Sec. B: torso, head, "limb mid",
# "limb end"); the paper lists no per-joint table, so joints are assigned by those names.
_MIXSTE_GROUP_OF = {
    "pelvis": "torso",
    "hip": "torso",
    "spine": "torso",
    "thorax": "torso",
    "neck": "torso",
    "shoulder": "torso",
    "neck_nose": "head",
    "head": "head",
    "head_top": "head",
    "knee": "middle_limb",
    "elbow": "middle_limb",
    "ankle": "terminal_limb",
    "wrist": "terminal_limb",
}

_H36M17_NAMES = tuple(member.name.lower() for member in H36MJoint)

_SMPLH_LEFT_HAND = hand_joints("left", wrist=20, first=22)
_SMPLH_RIGHT_HAND = hand_joints("right", wrist=21, first=37)
_SMPLX_LEFT_HAND = hand_joints("left", wrist=20, first=25)
_SMPLX_RIGHT_HAND = hand_joints("right", wrist=21, first=40)

_SKELETON_LIST = (
    Skeleton(
        "h36m17",
        _H36M17_NAMES,
        (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
        _groups(_H36M17_NAMES, _MIXSTE_GROUP_OF),
    ),
    Skeleton(
        "h36m32",
        H36M32_NAMES,
        H36M32_PARENTS,
    ),
    Skeleton(
        "mpi_inf_3dhp28",
        MPI_INF_3DHP28_NAMES,
        (2, 0, 3, 4, -1, 1, 5, 6, 5, 8, 9, 10, 11, 5, 13, 14, 15, 16, 4, 18, 19, 20, 21, 4, 23, 24, 25, 26),
        root=4,
    ),
    Skeleton(
        "mpi_inf_3dhp17",
        MPI_INF_3DHP17_NAMES,
        (1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
        _groups(MPI_INF_3DHP17_NAMES, _MIXSTE_GROUP_OF),
        root=14,
    ),
    Skeleton(
        "humaneva15",
        HUMANEVA15_NAMES,
        (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
        _groups(HUMANEVA15_NAMES, _MIXSTE_GROUP_OF),
    ),
    # 2D detector orders; their trees (joint_orders) serve drawing and flipping, not kinematics.
    Skeleton("coco17", COCO17_NAMES, COCO17_PARENTS, root=0),
    Skeleton("halpe26", HALPE26_NAMES, HALPE26_PARENTS, root=19),
    Skeleton("openpose25", OPENPOSE25_NAMES, OPENPOSE25_PARENTS, root=8),
    Skeleton(
        "smplh52",
        SMPL_BODY_NAMES + _SMPLH_LEFT_HAND[0] + _SMPLH_RIGHT_HAND[0],
        SMPL_BODY_PARENTS + _SMPLH_LEFT_HAND[1] + _SMPLH_RIGHT_HAND[1],
    ),
    Skeleton(
        "smplx55",
        # smplx spells the eyes "left_eye_smplhf"/"right_eye_smplhf"; jaw and eyes hang off the head (15).
        SMPL_BODY_NAMES + ("jaw", "left_eye", "right_eye") + _SMPLX_LEFT_HAND[0] + _SMPLX_RIGHT_HAND[0],
        SMPL_BODY_PARENTS + (15, 15, 15) + _SMPLX_LEFT_HAND[1] + _SMPLX_RIGHT_HAND[1],
    ),
)

SKELETONS: Mapping[str, Skeleton] = MappingProxyType({s.name: s for s in _SKELETON_LIST})
"""Every skeleton by name."""


def get_skeleton(name: str) -> Skeleton:
    """Return the skeleton registered as ``name``; KeyError listing the known names otherwise."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}") from None


# Body-model joints standing in for the H36M joints when no vertex regressor is given. Approximate: SMPL
# joints are rotation centres, H36M's are marker-derived. H36M "spine" sits about 0.23 m above the pelvis,
# closest to SMPL spine2 (spine1 is lower, spine3 higher); thorax = neck base; "neck_nose" (head centre) = the
# SMPL head joint; SMPL has no head-top joint, so head_top repeats the head joint.
_SMPL_BODY_TO_H36M17 = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine2", "neck", "head", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip

# MPI-INF-3DHP joints by meaning in Human3.6M's order; the 17- and 28-joint layouts share these names.
_MPI_INF_3DHP_TO_H36M17 = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "neck", "head", "head_top", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip

JOINT_CORRESPONDENCES: Mapping[tuple[str, str], tuple[str, ...]] = MappingProxyType(
    {
        # docs/formats.md 1.3: the standard 17 are 32-indices [0,1,2,3,6,7,8,12,13,14,15,17,18,19,25,26,27].
        ("h36m32", "h36m17"): _H36M17_NAMES,
        # docs/formats.md 2.2: the test-set 17 are 28-indices [7,5,14,15,16,9,10,11,23,24,25,18,19,20,4,3,6].
        ("mpi_inf_3dhp28", "mpi_inf_3dhp17"): MPI_INF_3DHP17_NAMES,
        # docs/formats.md 2.2 (by joint meaning): H36M[k] = MPI17[[14,8,9,10,11,12,13,15,1,16,0,5,6,7,2,3,4][k]].
        ("mpi_inf_3dhp17", "h36m17"): _MPI_INF_3DHP_TO_H36M17,
        ("h36m17", "mpi_inf_3dhp17"): (
            "head_top", "thorax", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
            "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
            "left_ankle", "pelvis", "spine", "neck_nose",
        ),
        ("mpi_inf_3dhp28", "h36m17"): _MPI_INF_3DHP_TO_H36M17,
        # HumanEva's thorax is mean(torsoProximal, headProximal) and its head is headDistal, the top of the
        # head (docs/formats.md 3.2). The reverse (humaneva15 -> h36m17) is incomplete: no spine, no head centre.
        ("h36m17", "humaneva15"): (
            "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
            "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle",
            "head_top",
        ),
        # The reverse, for writing VideoPose3D's 32-joint files (datasets.videopose3d): the 17 joints go back to
        # their 32-indices; each of the 15 others repeats the joint it coincides with in Human3.6M's own data
        # (spine base = pelvis, both clavicles = thorax) or, with no data of its own, its nearest kept ancestor
        # (toes = ankle, thumb and fingers = wrist): finite values, zero-length bones, dropped again on load.
        ("h36m17", "h36m32"): (
            "pelvis", "right_hip", "right_knee", "right_ankle", "right_ankle", "right_ankle",
            "left_hip", "left_knee", "left_ankle", "left_ankle", "left_ankle",
            "pelvis", "spine", "thorax", "neck_nose", "head_top",
            "thorax", "left_shoulder", "left_elbow", "left_wrist",
            "left_wrist", "left_wrist", "left_wrist", "left_wrist",
            "thorax", "right_shoulder", "right_elbow", "right_wrist",
            "right_wrist", "right_wrist", "right_wrist", "right_wrist",
        ),
        ("smplh52", "h36m17"): _SMPL_BODY_TO_H36M17,
        ("smplx55", "h36m17"): _SMPL_BODY_TO_H36M17,
    }
)  # fmt: skip
"""(source skeleton, target skeleton) -> the source joint name for each target joint, in target order."""

APPROXIMATE_CORRESPONDENCES = frozenset({("smplh52", "h36m17"), ("smplx55", "h36m17"), ("h36m17", "h36m32")})
"""Pairs whose joints only approximate the target's: body-model joints standing in for H36M markers (prefer a
vertex regressor, e.g. ``J_regressor_h36m``, where one is available), and the 17 -> 32 Human3.6M fill, where 15
target joints repeat a neighbour (for writing VideoPose3D files only).
"""


def joint_mapping(source: str, target: str) -> np.ndarray:
    """Indices that reorder joints of ``source`` into the order of ``target``.

    Args:
        source: Name of the skeleton the poses are in.
        target: Name of the skeleton wanted.

    Returns:
        (J_target,) int64 indices into the source order; identity when ``source == target``.
    """
    source_skeleton, target_skeleton = get_skeleton(source), get_skeleton(target)
    if source == target:
        return np.arange(source_skeleton.num_joints, dtype=np.int64)
    try:
        names = JOINT_CORRESPONDENCES[(source, target)]
    except KeyError:
        known = ", ".join(f"{s}->{t}" for s, t in JOINT_CORRESPONDENCES)
        raise KeyError(f"no joint correspondence {source}->{target}; known: {known}") from None
    if len(names) != target_skeleton.num_joints:
        raise ValueError(f"{source}->{target} lists {len(names)} joints, {target} has {target_skeleton.num_joints}")
    return np.array([source_skeleton.index(n) for n in names], dtype=np.int64)


def convert_joints(poses: ArrayOrTensor, source: str, target: str) -> ArrayOrTensor:
    """Reorder the joint axis of ``poses`` from ``source`` to ``target`` (``poses[..., mapping, :]``).

    Args:
        poses: (..., J_source, C) numpy array or torch tensor, any units.
        source: Skeleton name of ``poses``.
        target: Skeleton name wanted.

    Returns:
        (..., J_target, C) of the same type, dtype and device.
    """
    mapping = joint_mapping(source, target)
    expected = get_skeleton(source).num_joints
    if poses.ndim < 2 or poses.shape[-2] != expected:
        raise ValueError(f"poses must be (..., {expected}, C) for {source}, got shape {tuple(poses.shape)}")
    torch = torch_if_tensor(poses)
    if torch is not None:
        return poses[..., torch.as_tensor(mapping, device=poses.device), :]
    return poses[..., mapping, :]
