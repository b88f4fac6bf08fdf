"""Lifted 3D poses -> a BVH motion file whose forward kinematics reproduce every bone's direction.

The hierarchy is the skeleton's tree (Human3.6M-17 by default, parents from ``datasets.skeletons``) with one
addition. A BVH joint's rotation turns all of its children's offsets together, and lifted poses have free
angles between the bones that leave one joint (Human3.6M's pelvis: two hips and the spine; the thorax: neck
and two shoulders), so no single rotation can point every child bone right. Each child of such a joint hangs
from its own zero-offset *branch* joint, ``<parent>_to_<child>``, whose rotation serves that one bone; the
branching joint itself carries the rotation that best aligns all its children (Kabsch, every frame at once
through ``roma.rigid_vectors_registration``), so the pelvis and the thorax still turn with the body in
an animation tool. Every other joint has one child and its rotation is the smallest one taking the bone's rest
direction to its lifted direction. Leaves (wrists, ankles, head top) end in an ``End Site`` that continues
their bone by ``END_SITE_FRACTION`` of its length.

Conventions of the file:

- Axes: BVH's Y up. Lifted poses are in the camera frame (x right, y down, z forward), written as
  X = x, Y = -y, Z = -z (a rotation by 180 degrees about x, no mirroring).
- Units: centimetres (``datasets.units.CENTIMETRES_PER_METRE``); ``Frame Time`` is 1 / fps seconds.
- Rest pose (OFFSETs): a T-pose facing +Z with the subject's left on +X (``REST_DIRECTIONS``; bones whose
  child is not in the table rest along their mean direction over the sequence). Bone lengths are fixed per
  sequence: the median over frames of each bone's lifted length.
- Channels: the root ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``, every other joint
  ``Zrotation Xrotation Yrotation`` (CMU's order; local rotation = Rz Rx Ry), in degrees.

    write_bvh(Path("take.bvh"), poses_3d, fps=50.0)   # poses_3d (T, 17, 3) float32 metres, camera frame
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import roma
import torch
from scipy.spatial.transform import Rotation

from datasets.skeletons import get_skeleton
from datasets.units import CENTIMETRES_PER_METRE

_H36M = get_skeleton("h36m17")
CAMERA_TO_BVH = np.diag([1.0, -1.0, -1.0])
"""Camera-frame vector -> BVH vector (y down, z forward -> Y up, Z towards the camera)."""
EULER_ORDER = "ZXY"
"""Rotation channel order; scipy's upper-case (intrinsic) ``ZXY`` is BVH's Rz Rx Ry."""
END_SITE_FRACTION = 0.2
"""An End Site continues its leaf's bone by this fraction of the bone's length (a stub animation tools draw)."""
MIN_BONE_LENGTH = 1e-6
"""Bones shorter than this (metres, median over frames) have no direction; such poses are refused."""
_LEFT, _RIGHT, _UP, _DOWN = (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0)
REST_DIRECTIONS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "right_hip": _RIGHT, "right_knee": _DOWN, "right_ankle": _DOWN,
        "left_hip": _LEFT, "left_knee": _DOWN, "left_ankle": _DOWN,
        "spine": _UP, "thorax": _UP, "neck_nose": _UP, "head_top": _UP,
        "right_shoulder": _RIGHT, "right_elbow": _RIGHT, "right_wrist": _RIGHT,
        "left_shoulder": _LEFT, "left_elbow": _LEFT, "left_wrist": _LEFT,
    }
)  # fmt: skip
"""T-pose direction (BVH axes) of the bone that ends at each named joint."""


def _unit(vectors: np.ndarray) -> np.ndarray:
    """Vectors (..., 3) scaled to length 1."""
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _smallest_rotation(rest: np.ndarray, target: np.ndarray) -> Rotation:
    """Per frame, the rotation by the smallest angle taking unit ``rest`` (3,) to unit ``target`` (T, 3).

    Opposite vectors turn by 180 degrees about an axis perpendicular to ``rest``.
    """
    axis = np.cross(rest, target)
    sine, cosine = np.linalg.norm(axis, axis=-1), target @ rest
    angle = np.arctan2(sine, cosine)
    helper = np.array([1.0, 0.0, 0.0]) if abs(rest[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    fallback = np.cross(rest, helper) / np.linalg.norm(np.cross(rest, helper))
    degenerate = sine < 1e-12
    axis = np.where(degenerate[:, None], fallback, axis / np.where(degenerate, 1.0, sine)[:, None])
    return Rotation.from_rotvec(axis * angle[:, None])


def _best_fit(rest: np.ndarray, targets: np.ndarray) -> Rotation:
    """Per frame, the rotation that best takes the unit ``rest`` rows (C, 3) onto ``targets`` (T, C, 3).

    Every frame at once (roma's batched registration, the least-squares rotation ``align_vectors`` finds one
    frame at a time).
    """
    rest_rows = torch.from_numpy(np.broadcast_to(rest, targets.shape).copy())
    matrices = roma.rigid_vectors_registration(rest_rows, torch.from_numpy(np.ascontiguousarray(targets)))
    return Rotation.from_matrix(matrices.numpy())


def _children(parents: Sequence[int]) -> list[list[int]]:
    return [[c for c, p in enumerate(parents) if p == j] for j in range(len(parents))]


def _depth_first(parents: Sequence[int]) -> list[int]:
    """Joint indices, parents before children."""
    children, order = _children(parents), []
    stack = [parents.index(-1)]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(reversed(children[joint]))
    return order


class _Joint:
    """One BVH joint: its name, offset from its BVH parent (cm), local rotations (T,), and children."""

    def __init__(self, name: str, offset: np.ndarray) -> None:
        self.name, self.offset = name, offset
        self.rotation: Rotation | None = None
        self.children: list[_Joint] = []
        self.end_site: np.ndarray | None = None


def _build(poses: np.ndarray, names: Sequence[str], parents: Sequence[int]) -> _Joint:
    """The BVH tree for ``poses`` (T, J, 3) in BVH axes and centimetres, every local rotation filled in."""
    children = _children(parents)
    bones = poses - poses[:, [max(p, 0) for p in parents]]  # (T, J, 3); the root's row is zero
    lengths = np.median(np.linalg.norm(bones, axis=-1), axis=0)  # (J,)
    short = [names[j] for j, p in enumerate(parents) if p != -1 and lengths[j] < MIN_BONE_LENGTH]
    if short:
        raise ValueError(f"bones ending at {', '.join(short)} have zero median length; they have no direction")
    with np.errstate(invalid="ignore", divide="ignore"):
        directions = _unit(bones)  # (T, J, 3), NaN for the root
    rest = np.array([REST_DIRECTIONS.get(names[j]) or _unit(directions[:, j].mean(axis=0)) for j in range(len(names))])
    root = parents.index(-1)
    joints = {root: _Joint(names[root], np.zeros(3))}
    world = {root: Rotation.identity(len(poses))}  # joint -> world rotation of the BVH joint its offset hangs from
    for joint in _depth_first(parents):
        node, kids = joints[joint], children[joint]
        parent_world = world[joint]
        if len(kids) == 1:
            node.rotation = _smallest_rotation(rest[kids[0]], parent_world.inv().apply(directions[:, kids[0]]))
        elif kids:
            node.rotation = parent_world.inv() * _best_fit(rest[kids], directions[:, kids])
        else:
            node.rotation = Rotation.identity(len(poses))
            node.end_site = rest[joint] * lengths[joint] * END_SITE_FRACTION
        own_world = parent_world * node.rotation
        for kid in kids:
            joints[kid] = _Joint(names[kid], rest[kid] * lengths[kid])
            if len(kids) == 1:
                node.children.append(joints[kid])
                world[kid] = own_world
                continue
            branch = _Joint(f"{names[joint]}_to_{names[kid]}", np.zeros(3))
            branch.rotation = _smallest_rotation(rest[kid], own_world.inv().apply(directions[:, kid]))
            branch.children.append(joints[kid])
            node.children.append(branch)
            world[kid] = own_world * branch.rotation
    return joints[root]


def _hierarchy(joint: _Joint, depth: int, lines: list[str], motion: list[_Joint]) -> None:
    """Append the HIERARCHY lines of ``joint`` and its subtree; collect joints in channel order."""
    pad = "  " * depth
    keyword = "ROOT" if depth == 0 else "JOINT"
    channels = "6 Xposition Yposition Zposition" if depth == 0 else "3"
    lines += [f"{pad}{keyword} {joint.name}", f"{pad}{{", f"{pad}  OFFSET {_numbers(joint.offset)}"]
    lines.append(f"{pad}  CHANNELS {channels} Zrotation Xrotation Yrotation")
    motion.append(joint)
    for child in joint.children:
        _hierarchy(child, depth + 1, lines, motion)
    if joint.end_site is not None:
        lines += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {_numbers(joint.end_site)}", f"{pad}  }}"]
    lines.append(f"{pad}}}")


def _numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:.6f}" for v in values)


def write_bvh(
    path: Path,
    poses_3d: np.ndarray,
    fps: float,
    joint_names: Sequence[str] = _H36M.joint_names,
    parents: Sequence[int] = _H36M.parents,
) -> None:
    """Write lifted poses as a BVH file (hierarchy, axes, units and channels: see the module docstring).

    Args:
        path: The ``.bvh`` file to write.
        poses_3d: (T, J, 3) float metres, camera frame (x right, y down, z forward); root-relative or not.
        fps: Frames per second of ``poses_3d``.
        joint_names: J joint names, BVH joint names as written.
        parents: Parent index per joint, -1 for the root.

    Raises:
        ValueError: ``poses_3d`` is not (T, J, 3) finite numbers, ``fps`` is not positive, or a bone has zero
            median length.
    """
    poses = np.asarray(poses_3d, dtype=np.float64)
    parents = list(parents)
    if poses.ndim != 3 or poses.shape[1:] != (len(joint_names), 3) or len(poses) == 0:
        raise ValueError(f"poses_3d must be (T, {len(joint_names)}, 3) with T > 0, got {poses.shape}")
    if not np.isfinite(poses).all():
        raise ValueError("poses_3d holds NaN or infinite values; fill them before writing BVH")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    poses = poses @ CAMERA_TO_BVH.T * CENTIMETRES_PER_METRE
    root = _build(poses, list(joint_names), parents)
    lines, motion = ["HIERARCHY"], []
    _hierarchy(root, 0, lines, motion)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Gimbal lock detected")
        angles = [joint.rotation.as_euler(EULER_ORDER, degrees=True) for joint in motion]  # each (T, 3)
    channels = np.concatenate([poses[:, parents.index(-1)], *angles], axis=1)  # (T, 3 + 3 * len(motion))
    lines += ["MOTION", f"Frames: {len(poses)}", f"Frame Time: {1.0 / fps:.9f}"]
    lines += [_numbers(row) for row in channels]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
