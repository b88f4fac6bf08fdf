"""A licence-free body template: a plausible SMPL+H/SMPL-X skeleton dressed in trimesh capsules.

The template follows the SMPL family's conventions (docs/formats.md 5.1-5.3): y up, the body facing +z, the
body's left side on +x, metres, about 1.7 m tall. Each bone (joint -> child) gets a capsule, each leaf joint
(head top, toes, finger tips) a short capsule continuing its bone, and the head carries a jaw capsule and two
eye spheres (skinned to the head in SMPL+H, to the jaw/eye joints in SMPL-X). The mesh is a union of capsules,
not a watertight surface: enough for blend skinning, joint regressors and realistic array shapes.

Joint centres resemble SMPL's template, with one deliberate difference. Human3.6M's 17 joints are linked by
16 bones, SMPL's torso has more pivots: three spine joints and two collars between the pelvis, the thorax and
the shoulders. Wherever a pivot sits strictly inside an H36M bone, that bone's length changes with the pose
(by ~2 cm in real AMASS motion). So that regressed H36M skeletons stay rigid, which is what lets tests check
bone lengths to the millimetre, the synthetic skeleton puts those pivots on H36M joints: spine1 pivots at the
pelvis centre, spine3 at spine2 (mid-torso, H36M's "spine"), and the collars at the neck base (H36M's
"thorax", where the clavicles meet the sternum).

    >>> template = build_template("neutral")
    >>> template.joints.shape, 1.6 < template.height < 1.8
    ((55, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from datasets.skeletons import get_skeleton

GENDERS = ("male", "female", "neutral")
"""Genders of the AMASS model files (docs/formats.md 5.2)."""

SMPLX_SKELETON = get_skeleton("smplx55")
"""Joint order of the template: SMPL-X's 55 joints; SMPL+H drops jaw and eyes (indices 22-24)."""

SMPLX_FACE_JOINTS = (22, 23, 24)
"""Indices of jaw, left eye and right eye in the SMPL-X order (docs/formats.md 5.3)."""

_COINCIDENT = {"spine1": "pelvis", "spine3": "spine2", "left_collar": "neck", "right_collar": "neck"}
"""Pivots placed on another joint's centre so the H36M bones stay rigid (module docstring)."""

# Hand-made neutral joint positions, y up, left = +x, metres; close to SMPL's neutral template.
_BODY_JOINTS = {
    "pelvis": (0.0, -0.22, 0.02),
    "left_hip": (0.07, -0.31, 0.0),
    "left_knee": (0.10, -0.69, 0.0),
    "spine2": (0.0, 0.03, 0.0),
    "left_ankle": (0.09, -1.09, -0.04),
    "left_foot": (0.11, -1.14, 0.08),
    "neck": (0.0, 0.28, -0.02),
    "head": (0.0, 0.36, 0.02),
    "left_shoulder": (0.18, 0.23, -0.02),
    "left_elbow": (0.44, 0.21, -0.04),
    "left_wrist": (0.69, 0.21, -0.04),
    "jaw": (0.0, 0.34, 0.05),
    "left_eye": (0.032, 0.43, 0.085),
}
# Finger roots relative to the wrist, unit directions and phalanx lengths (left hand; the right mirrors x).
_FINGER_ROOTS = {
    "index": (0.085, -0.005, 0.025),
    "middle": (0.09, -0.005, 0.005),
    "pinky": (0.075, -0.005, -0.035),
    "ring": (0.085, -0.005, -0.015),
    "thumb": (0.025, -0.015, 0.03),
}
_FINGER_DIRECTIONS = {"thumb": (0.6, -0.2, 0.75)}
_PHALANX_LENGTHS = {
    "index": (0.035, 0.025, 0.02),
    "middle": (0.04, 0.028, 0.02),
    "pinky": (0.028, 0.02, 0.017),
    "ring": (0.037, 0.026, 0.02),
    "thumb": (0.035, 0.03, 0.025),
}
# Proportions per gender: overall scale, hip width and shoulder width factors.
_PROPORTIONS = {
    "male": (1.04, 1.0, 1.08),
    "female": (0.955, 1.12, 0.92),
    "neutral": (1.0, 1.05, 1.0),
}
# Capsule radius by the name of the joint that starts a bone (side prefix removed), metres; fingers otherwise.
_RADII = {
    "pelvis": 0.10, "hip": 0.075, "knee": 0.05, "ankle": 0.04, "foot": 0.035, "spine1": 0.12,
    "spine2": 0.125, "spine3": 0.125, "neck": 0.05, "head": 0.09, "collar": 0.05, "shoulder": 0.045,
    "elbow": 0.037, "wrist": 0.02, "jaw": 0.03, "eye": 0.012,
}  # fmt: skip
_FINGER_RADIUS = 0.009
_SMALL_RADIUS = 0.025  # capsules thinner than this (fingers, palm) get the coarse resolution
_LEAF_LENGTHS = {"head": 0.09, "foot": 0.06, "jaw": 0.04}
_LEAF_FINGER_FRACTION = 0.8  # finger tips continue the last phalanx by this fraction of its length
_BLEND_ZONE = 0.2  # fraction of a bone near each end over which skinning blends into the neighbour
_CYLINDER_RINGS = 5  # vertex rings along a capsule's straight part, both ends included
_MIN_BONE = 1e-6  # metres: shorter bones (coincident pivots) get no capsule


@dataclass(frozen=True)
class BodyTemplate:
    """A rest-pose body: joints, capsule mesh and what each vertex belongs to.

    Attributes:
        gender: ``"male"``, ``"female"`` or ``"neutral"``.
        joints: (55, 3) float64, metres, y up; SMPL-X joint order (SMPL+H drops indices 22-24).
        vertices: (V, 3) float64, metres.
        faces: (F, 3) int64 vertex indices.
        bone_joint: (V,) int64, the SMPL-X joint whose capsule made the vertex.
        bone_child: (V,) int64, the joint the capsule points to (-1 for leaf capsules).
        bone_fraction: (V,) float64, position along the capsule axis, 0 at the start joint, 1 at the end
            (below 0 / above 1 on the end caps).
        axis_points: (V, 3) float64, the closest point on the capsule's axis segment.
        axis_directions: (V, 3) float64, unit direction of the capsule's axis.
    """

    gender: str
    joints: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    bone_joint: np.ndarray
    bone_child: np.ndarray
    bone_fraction: np.ndarray
    axis_points: np.ndarray
    axis_directions: np.ndarray

    @property
    def height(self) -> float:
        """Standing height in metres (vertical extent of the mesh)."""
        return float(np.ptp(self.vertices[:, 1]))

    def joint_ring(self, joint: int) -> np.ndarray:
        """Vertices on the capsule rings centred exactly at ``joint``'s centre.

        These are the rings where the capsules that start at the joint begin (fraction 0) and those that end
        at it finish (fraction 1). Their uniform average is the joint centre, and they blend the joint and its
        parent half and half, so their average follows the posed joint exactly.

        Returns:
            (R,) int64 vertex indices, R > 0.
        """
        starts = (self.bone_joint == joint) & (np.abs(self.bone_fraction) < 1e-9)
        ends = (self.bone_child == joint) & (np.abs(self.bone_fraction - 1.0) < 1e-9)
        return np.flatnonzero(starts | ends)


def _mirror(point: tuple[float, float, float]) -> np.ndarray:
    return np.array([-point[0], point[1], point[2]])


def template_joints(gender: str) -> np.ndarray:
    """Rest-pose joint positions of the synthetic body.

    Args:
        gender: One of ``GENDERS``; sets the overall scale, hip width and shoulder width.

    Returns:
        (55, 3) float64, metres, y up, SMPL-X joint order.
    """
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    scale, hip_factor, shoulder_factor = _PROPORTIONS[gender]
    names = SMPLX_SKELETON.joint_names
    joints = np.zeros((len(names), 3))
    for name, position in _BODY_JOINTS.items():
        joints[names.index(name)] = position
        if name.startswith("left_"):
            joints[names.index("right_" + name[5:])] = _mirror(position)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        wrist = joints[names.index(f"{side}_wrist")]
        for finger, root in _FINGER_ROOTS.items():
            direction = np.array(_FINGER_DIRECTIONS.get(finger, (1.0, 0.0, 0.0)))
            direction = direction / np.linalg.norm(direction) * np.array([sign, 1.0, 1.0])
            position = wrist + np.array(root) * np.array([sign, 1.0, 1.0])
            for k, length in enumerate(_PHALANX_LENGTHS[finger]):
                joints[names.index(f"{side}_{finger}{k + 1}")] = position
                position = position + direction * length
    for index, name in enumerate(names):
        unsided = name.removeprefix("left_").removeprefix("right_")
        if unsided == "hip":
            joints[index, 0] *= hip_factor
        elif name.startswith(("left_", "right_")) and unsided.rstrip("123") in (
            "shoulder",
            "elbow",
            "wrist",
            *_FINGER_ROOTS,
        ):
            # Move the whole arm sideways so the shoulders widen without stretching the limbs.
            shoulder = joints[names.index(name.split("_")[0] + "_shoulder")]
            joints[index, 0] += shoulder[0] * (shoulder_factor - 1.0)
    for name, anchor in _COINCIDENT.items():
        joints[names.index(name)] = joints[names.index(anchor)]
    return joints * scale


def _leaf_end(joints: np.ndarray, joint: int, scale: float) -> np.ndarray:
    """End point of the short capsule that continues leaf joint ``joint`` beyond its parent bone."""
    unsided = SMPLX_SKELETON.joint_names[joint].removeprefix("left_").removeprefix("right_")
    if unsided in ("head", "jaw"):
        direction = np.array([0.0, 1.0, 0.0]) if unsided == "head" else np.array([0.0, -0.3, 1.0])
        return joints[joint] + direction / np.linalg.norm(direction) * _LEAF_LENGTHS[unsided] * scale
    if unsided == "eye":
        return joints[joint] + np.array([0.0, 0.0, _RADII["eye"] * 0.5 * scale])
    if unsided == "foot":
        return joints[joint] + np.array([0.0, -0.02, 1.0]) * _LEAF_LENGTHS["foot"] * scale
    return joints[joint] + (joints[joint] - joints[SMPLX_SKELETON.parents[joint]]) * _LEAF_FINGER_FRACTION


def _radius(joint: int) -> float:
    name = SMPLX_SKELETON.joint_names[joint].removeprefix("left_").removeprefix("right_")
    return _RADII.get(name, _FINGER_RADIUS)


def _capsule(start: np.ndarray, end: np.ndarray, radius: float, cap_rings: int, sections: int) -> trimesh.Trimesh:
    """A capsule from ``start`` to ``end`` (metres) with vertex rings along its straight part too."""
    axis = end - start
    length = float(np.linalg.norm(axis))
    cap = np.linspace(-np.pi / 2.0, 0.0, cap_rings + 1)
    bottom = np.column_stack([np.cos(cap) * radius, np.sin(cap) * radius - length / 2.0])
    middle = np.column_stack(
        [np.full(_CYLINDER_RINGS - 2, radius), np.linspace(-length / 2.0, length / 2.0, _CYLINDER_RINGS)[1:-1]]
    )
    top = np.column_stack([np.cos(cap[::-1]) * radius, -np.sin(cap[::-1]) * radius + length / 2.0])
    transform = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], axis / length)
    transform[:3, 3] = (start + end) / 2.0
    return trimesh.creation.revolve(np.vstack([bottom, middle, top]), sections=sections, transform=transform)


def build_template(gender: str, detail: int = 1) -> BodyTemplate:
    """Dress the synthetic skeleton in capsules.

    Args:
        gender: One of ``GENDERS``.
        detail: Mesh resolution factor; 1 gives about 2.5k vertices, 3 about 7k (SMPL has 6890).

    Returns:
        The rest-pose template.
    """
    if detail < 1:
        raise ValueError(f"detail must be >= 1, got {detail}")
    joints = template_joints(gender)
    scale = _PROPORTIONS[gender][0]
    parents = SMPLX_SKELETON.parents
    children: dict[int, list[int]] = {j: [] for j in range(len(parents))}
    for joint, parent in enumerate(parents):
        if parent >= 0:
            children[parent].append(joint)
    pieces, metadata, segments = [], [], set()
    for joint in range(len(parents)):
        radius = _radius(joint) * scale
        small = radius < _SMALL_RADIUS * scale
        cap_rings, sections = (1, 4 + 2 * detail) if small else (1 + detail, 6 + 2 * detail)
        targets = [(joints[child], child) for child in children[joint] if child not in SMPLX_FACE_JOINTS[1:]]
        if not targets or joint == 15:  # leaves, and the head, which also continues upwards
            targets.append((_leaf_end(joints, joint, scale), -1))
        for end, child in targets:
            start = joints[joint]
            segment = (tuple(np.round(start, 9)), tuple(np.round(end, 9)))
            if np.linalg.norm(end - start) < _MIN_BONE or segment in segments:
                continue  # coincident pivot, or the same segment already dressed (collars vs neck)
            segments.add(segment)
            mesh = _capsule(start, end, radius, cap_rings, sections)
            axis = end - start
            fraction = (mesh.vertices - start) @ axis / (axis @ axis)
            fraction[np.abs(fraction) < 1e-9] = 0.0
            fraction[np.abs(fraction - 1.0) < 1e-9] = 1.0
            axis_points = start + np.clip(fraction, 0.0, 1.0)[:, None] * axis
            count = len(mesh.vertices)
            pieces.append(mesh)
            metadata.append((np.full(count, joint), np.full(count, child), fraction, axis_points,
                             np.tile(axis / np.linalg.norm(axis), (count, 1))))  # fmt: skip
    mesh = trimesh.util.concatenate(pieces)
    columns = (np.concatenate(parts) for parts in zip(*metadata, strict=True))
    bone_joint, bone_child, fraction, axis_points, directions = columns
    return BodyTemplate(
        gender=gender,
        joints=joints,
        vertices=np.asarray(mesh.vertices, dtype=np.float64),
        faces=np.asarray(mesh.faces, dtype=np.int64),
        bone_joint=bone_joint.astype(np.int64),
        bone_child=bone_child.astype(np.int64),
        bone_fraction=fraction,
        axis_points=axis_points,
        axis_directions=directions,
    )


def skinning_weights(template: BodyTemplate) -> np.ndarray:
    """Linear-blend-skinning weights over the SMPL-X joints.

    A vertex belongs to the joint whose capsule made it; within ``_BLEND_ZONE`` of either end of the bone
    it blends linearly into the parent (start) or child (end) joint, reaching 50/50 at the joint itself
    and on the end caps, so neighbouring capsules agree where they meet.

    Args:
        template: The body template.

    Returns:
        (V, 55) float64, rows sum to 1.
    """
    count = len(template.vertices)
    weights = np.zeros((count, len(SMPLX_SKELETON.parents)))
    rows = np.arange(count)
    parents = np.array(SMPLX_SKELETON.parents)[template.bone_joint]
    to_parent = np.clip((_BLEND_ZONE - template.bone_fraction) / (2 * _BLEND_ZONE), 0.0, 0.5)
    to_parent = np.where(parents >= 0, to_parent, 0.0)
    to_child = np.clip((template.bone_fraction - 1.0 + _BLEND_ZONE) / (2 * _BLEND_ZONE), 0.0, 0.5)
    to_child = np.where(template.bone_child >= 0, to_child, 0.0)
    np.add.at(weights, (rows, template.bone_joint), 1.0 - to_parent - to_child)
    np.add.at(weights, (rows, np.maximum(parents, 0)), to_parent)
    np.add.at(weights, (rows, np.maximum(template.bone_child, 0)), to_child)
    return weights
