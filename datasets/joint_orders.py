"""Joint orders of the source formats as plain data: names and parent indices, read by ``datasets.skeletons``.

Each tuple is one dataset's joint order exactly as its format defines it (``docs/formats.md``:
Human3.6M's 32 joints 1.2, MPI-INF-3DHP's 28 and 17 joints 2.1 and 2.2, HumanEva-I's 15 joints 3.2, the SMPL
family 5.2), spelled in snake_case with ``left_``/``right_`` prefixes so that ``datasets.skeletons`` can
derive left/right pairs from the names. Use the ``Skeleton`` objects (``get_skeleton``), not these tuples.
"""

from __future__ import annotations

H36M32_NAMES = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "right_toe_base", "right_toe_end",
    "left_hip", "left_knee", "left_ankle", "left_toe_base", "left_toe_end",
    "spine_base", "spine", "thorax", "neck_nose", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist",
    "left_thumb_base", "left_thumb_tip", "left_fingers", "left_fingers_tip",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist",
    "right_thumb_base", "right_thumb_tip", "right_fingers", "right_fingers_tip",
)  # fmt: skip

H36M32_PARENTS = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14,
    12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27, 30,
)  # fmt: skip

MPI_INF_3DHP28_NAMES = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
    "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe",
    "right_hip", "right_knee", "right_ankle", "right_foot", "right_toe",
)  # fmt: skip

MPI_INF_3DHP17_NAMES = (
    "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "pelvis", "spine", "head",
)  # fmt: skip

HUMANEVA15_NAMES = (
    "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle", "head",
)  # fmt: skip

SMPL_BODY_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
SMPL_BODY_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # smplx SMPLH_JOINT_NAMES order; 3 joints each


def hand_joints(side: str, wrist: int, first: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Names and parents of one 15-joint hand whose first joint has index ``first``.

    Each finger is a chain of three joints whose root hangs off the wrist (docs/formats.md 5.2).
    """
    names = tuple(f"{side}_{finger}{k}" for finger in FINGERS for k in (1, 2, 3))
    parents = tuple(wrist if k == 0 else first + 3 * finger + k - 1 for finger in range(len(FINGERS)) for k in range(3))
    return names, parents


# 2D detector orders (``datasets.keypoints`` reads them; ``datasets.keypoints.joint_mapping`` maps them to
# Human3.6M-17). Names as mmpose's dataset configs spell them (``configs/_base_/datasets/coco.py``, ``halpe.py``).
# Parent trees follow the limbs mmpose's configs draw (``skeleton_info``) and OpenPose's BODY_25 pairs; COCO has
# no mid-body joint, so its tree hangs from the nose (a root must be unsided for the tree to mirror onto itself).
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
COCO17_PARENTS = (-1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14)
# Halpe-26: COCO-17, then head (top), neck, hip (mid-hip) and the feet (AlphaPose, MotionBERT's halpe2h36m).
HALPE26_NAMES = COCO17_NAMES + (
    "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
    "left_heel", "right_heel",
)  # fmt: skip
HALPE26_PARENTS = (18, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14, 18, 19, -1, 15, 16, 15, 16, 15, 16)
# OpenPose BODY_25 (``doc/02_output.md``: Nose, Neck, RShoulder, ..., MidHip, ..., RHeel).
OPENPOSE25_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip
OPENPOSE25_PARENTS = (1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11)
