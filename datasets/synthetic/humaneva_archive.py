"""Licence-free HumanEva-I stand-ins: ConvertHumanEva.m's MATLAB export and VideoPose3D's npz files.

The tests' ``write_humaneva_mat(root)`` (``tests/fixture_archives.py``) writes
``converted_15j/{Train,Validate}/S<n>/<Action>_1.mat`` with ``poses_3d``
(N, 15, 3) mm in the world frame and ``poses_2d`` (3, N, 15, 2) pixels for cameras C1-C3, frames without
mocap as all-NaN rows (``docs/formats.md`` 3.3). ``write_humaneva_npz(root)`` writes the same
motion as ``data_3d_humaneva15.npz`` / ``data_2d_humaneva15_gt.npz`` cut into chunks the way VideoPose3D's
``prepare_data_humaneva.py`` does (docs/formats.md 3.4). Sequence lengths are the real ones (docs/formats.md 3.5).

VideoPose3D publishes no HumanEva-I intrinsics, and readers take the 2D as given, so the synthetic 2D comes
from invented pinhole cameras written out here (``SYNTHETIC_CAMERAS``). Every format fact (joint order and
symmetry, sequence lengths, units, key names) is a literal read off docs/formats.md, not imported from
``datasets.humaneva`` or ``datasets.skeletons``: a reader that misreads the format then disagrees with
these files instead of sharing the misreading.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.synthetic.h36m_archive import figure_motion
from datasets.units import MILLIMETRES_PER_METRE

HUMANEVA15_JOINTS = (
    "pelvis", "thorax", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle", "head",
)  # fmt: skip
"""VideoPose3D's ``humaneva15`` order (docs/formats.md 3.2)."""
HUMANEVA15_SYMMETRY = [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]
"""``keypoints_symmetry`` of the 2D file's metadata: left joints, right joints (docs/formats.md 3.2, 3.4)."""
SEQUENCE_FRAMES = {
    ("Train/S1", "Walking 1"): 613, ("Train/S1", "Jog 1"): 373, ("Train/S1", "ThrowCatch 1"): 472,
    ("Train/S1", "Gestures 1"): 406, ("Train/S1", "Box 1"): 404,
    ("Train/S2", "Walking 1"): 438, ("Train/S2", "Jog 1"): 397, ("Train/S2", "ThrowCatch 1"): 578,
    ("Train/S2", "Gestures 1"): 401, ("Train/S2", "Box 1"): 352,
    ("Train/S3", "Walking 1"): 491, ("Train/S3", "Jog 1"): 441, ("Train/S3", "Gestures 1"): 569,
    ("Train/S3", "Box 1"): 509,
    ("Validate/S1", "Walking 1"): 585, ("Validate/S1", "Jog 1"): 362, ("Validate/S1", "ThrowCatch 1"): 468,
    ("Validate/S1", "Gestures 1"): 390, ("Validate/S1", "Box 1"): 380,
    ("Validate/S2", "Walking 1"): 433, ("Validate/S2", "Jog 1"): 393, ("Validate/S2", "ThrowCatch 1"): 545,
    ("Validate/S2", "Gestures 1"): 495, ("Validate/S2", "Box 1"): 377,
    ("Validate/S3", "Walking 1"): 443, ("Validate/S3", "Jog 1"): 396, ("Validate/S3", "ThrowCatch 1"): 488,
    ("Validate/S3", "Gestures 1"): 528, ("Validate/S3", "Box 1"): 507,
}  # fmt: skip
"""Frames of each trial-1 sequence (docs/formats.md 3.5; Train/S3 ThrowCatch is skipped, damaged mocap)."""
SYNTHETIC_FOCAL = 760.0
"""Invented focal length (pixels) for the synthetic 640x480 images; not a HumanEva-I calibration."""
SYNTHETIC_CAMERAS = ((4.0, 0.6, 1.5), (0.8, -3.8, 1.5), (-0.8, 3.9, 1.4))
"""Invented centres (world metres, z up) of C1-C3, near the real ones (docs/formats.md 3.1: z about 1.4-1.5 m)."""
PROFILES = {"Walking": "walk", "Jog": "jog", "Box": "box", "Gestures": "stand", "ThrowCatch": "stand"}
_HUMANEVA15_FROM_FIGURE = {"head": "head_top"}  # HumanEva's head is headDistal, the top of the head


@dataclass(frozen=True)
class HumanEvaArchiveSpec:
    """What a synthetic HumanEva-I tree holds.

    Attributes:
        subjects: ``"S1"``..``"S3"``.
        actions: Toolkit action names (trial 1 of each), e.g. ``"Walking"``, ``"Jog"``, ``"Box"``.
        parts: ``"Train"`` and/or ``"Validate"``.
        gap: Frames without mocap cut into the middle of every second sequence (0 for none), so readers
            meet chunks as in the real data.
        seed: Seeds every random choice.
    """

    subjects: tuple[str, ...] = ("S1", "S2")
    actions: tuple[str, ...] = ("Walking", "Jog", "Box")
    parts: tuple[str, ...] = ("Train", "Validate")
    gap: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [
            (p, s, a) for p in self.parts for s in self.subjects for a in self.actions
            if (f"{p}/{s}", f"{a} 1") not in SEQUENCE_FRAMES
        ]  # fmt: skip
        if unknown:
            raise ValueError(f"HumanEvaArchiveSpec: no such HumanEva-I sequences {unknown}")
        if self.gap < 0:
            raise ValueError(f"HumanEvaArchiveSpec.gap must be >= 0, got {self.gap}")


def synthetic_keypoints(world: np.ndarray) -> np.ndarray:
    """(T, J, 3) world metres -> (3, T, J, 2) pixels in C1-C3.

    Pinholes at ``SYNTHETIC_CAMERAS`` aimed at the point (0, 0, 1) m, image centre (320, 240), focal
    ``SYNTHETIC_FOCAL``.
    """
    keypoints = []
    for centre in SYNTHETIC_CAMERAS:
        forward = np.array([0.0, 0.0, 1.0]) - centre
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        rotation = np.stack([right, np.cross(forward, right), forward])  # rows: camera x, y (down), z
        points = (world - np.asarray(centre)) @ rotation.T
        keypoints.append(SYNTHETIC_FOCAL * points[..., :2] / points[..., 2:] + np.array([320.0, 240.0]))
    return np.stack(keypoints)


def synthetic_sequences(spec: HumanEvaArchiveSpec) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Per (``part/subject``, ``"<Action> 1"``): poses_3d (N, 15, 3) mm and poses_2d (3, N, 15, 2) px, NaN gaps."""
    sequences = {}
    for number, (part, subject, action) in enumerate(itertools.product(spec.parts, spec.subjects, spec.actions)):
        frames = SEQUENCE_FRAMES[(f"{part}/{subject}", f"{action} 1")]
        points = figure_motion(frames, 60.0, PROFILES.get(action, "stand"), spec.seed * 7919 + number)
        world = np.stack([points[_HUMANEVA15_FROM_FIGURE.get(name, name)] for name in HUMANEVA15_JOINTS], axis=1)
        keypoints = synthetic_keypoints(world)
        poses = world * MILLIMETRES_PER_METRE
        if spec.gap and number % 2:
            middle = frames // 2
            poses[middle : middle + spec.gap] = np.nan
            keypoints[:, middle : middle + spec.gap] = np.nan
        sequences[(f"{part}/{subject}", f"{action} 1")] = (poses, keypoints)
    return sequences


def write_humaneva_npz(root: Path, spec: HumanEvaArchiveSpec = HumanEvaArchiveSpec()) -> list[Path]:
    """Write ``data_3d_humaneva15.npz`` and ``data_2d_humaneva15_gt.npz`` (chunks of finite mocap); return them."""
    positions_3d: dict[str, dict[str, np.ndarray]] = {}
    positions_2d: dict[str, dict[str, list[np.ndarray]]] = {}
    for (key, sequence), (poses, keypoints) in synthetic_sequences(spec).items():
        positions_3d.setdefault(key, {})
        positions_2d.setdefault(key, {})
        finite = np.isfinite(poses).all(axis=(1, 2))
        boundaries = [0, *np.flatnonzero(np.diff(finite)) + 1, len(finite)]
        for chunk, (start, stop) in enumerate(itertools.pairwise(boundaries)):
            if finite[start]:
                name = f"{sequence} chunk{chunk}"
                positions_3d[key][name] = poses[start:stop].astype(np.float32) / np.float32(MILLIMETRES_PER_METRE)
                positions_2d[key][name] = [camera[start:stop].astype(np.float32) for camera in keypoints]
    root.mkdir(parents=True, exist_ok=True)
    metadata = {"layout_name": "humaneva15", "num_joints": 15, "keypoints_symmetry": HUMANEVA15_SYMMETRY}
    written = [root / "data_3d_humaneva15.npz", root / "data_2d_humaneva15_gt.npz"]
    np.savez_compressed(written[0], positions_3d=positions_3d)
    np.savez_compressed(written[1], positions_2d=positions_2d, metadata=metadata)
    return written
