"""Licence-free HumanEva-I stand-ins: ConvertHumanEva.m's MATLAB export and VideoPose3D's npz files.

``write_humaneva_mat(root)`` writes ``converted_15j/{Train,Validate}/S<n>/<Action>_1.mat`` with ``poses_3d``
(N, 15, 3) mm in the world frame and ``poses_2d`` (3, N, 15, 2) pixels for cameras C1-C3, frames without
mocap as all-NaN rows (``../shared/reference/formats.md`` 3.3). ``write_humaneva_npz(root)`` writes the same
motion as ``data_3d_humaneva15.npz`` / ``data_2d_humaneva15_gt.npz`` cut into chunks the way VideoPose3D's
``prepare_data_humaneva.py`` does (formats.md 3.4). Sequence lengths are the real ones (formats.md 3.5).

VideoPose3D publishes no HumanEva-I intrinsics, so the synthetic 2D uses invented ones
(``SYNTHETIC_FOCAL``, image centre) with the real extrinsics; readers never need them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.cameras import Camera, humaneva_cameras, project, world_to_camera
from datasets.humaneva import SEQUENCE_FRAMES
from datasets.skeletons import get_skeleton
from datasets.synthetic.h36m_archive import figure_joints, figure_motion
from datasets.units import MILLIMETRES_PER_METRE

SYNTHETIC_FOCAL = 760.0
"""Invented focal length (pixels) for the synthetic 640x480 images; not a HumanEva-I calibration."""
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


def synthetic_cameras(subject: str) -> list[Camera]:
    """The subject's real C1-C3 extrinsics with invented pinhole intrinsics (synthetic 2D only)."""
    centre = {"cx": 320.0, "cy": 240.0, "fx": SYNTHETIC_FOCAL, "fy": SYNTHETIC_FOCAL}
    return [
        Camera(c.name, **centre, width=c.width, height=c.height, rotation=c.rotation, translation=c.translation)
        for c in humaneva_cameras(subject)
    ]


def synthetic_sequences(spec: HumanEvaArchiveSpec) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Per (``part/subject``, ``"<Action> 1"``): poses_3d (N, 15, 3) mm and poses_2d (3, N, 15, 2) px, NaN gaps."""
    sequences = {}
    for number, (part, subject, action) in enumerate(itertools.product(spec.parts, spec.subjects, spec.actions)):
        frames = SEQUENCE_FRAMES[(f"{part}/{subject}", f"{action} 1")]
        points = figure_motion(frames, 60.0, PROFILES.get(action, "stand"), spec.seed * 7919 + number)
        world = figure_joints(points, "humaneva15", _HUMANEVA15_FROM_FIGURE)
        keypoints = np.stack([project(world_to_camera(world, c), c) for c in synthetic_cameras(subject)])
        poses = world * MILLIMETRES_PER_METRE
        if spec.gap and number % 2:
            middle = frames // 2
            poses[middle : middle + spec.gap] = np.nan
            keypoints[:, middle : middle + spec.gap] = np.nan
        sequences[(f"{part}/{subject}", f"{action} 1")] = (poses, keypoints)
    return sequences


def write_humaneva_mat(root: Path, spec: HumanEvaArchiveSpec = HumanEvaArchiveSpec()) -> list[Path]:
    """Write ``converted_15j/<part>/<subject>/<Action>_1.mat`` files; return them."""
    from scipy.io import savemat

    written = []
    for (key, sequence), (poses, keypoints) in synthetic_sequences(spec).items():
        folder = root / "converted_15j" / key
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{sequence.replace(' ', '_')}.mat"
        savemat(path, {"poses_3d": poses, "poses_2d": keypoints})
        written.append(path)
    return written


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
    skeleton = get_skeleton("humaneva15")
    symmetry = [list(skeleton.left_indices), list(skeleton.right_indices)]
    metadata = {"layout_name": "humaneva15", "num_joints": skeleton.num_joints, "keypoints_symmetry": symmetry}
    written = [root / "data_3d_humaneva15.npz", root / "data_2d_humaneva15_gt.npz"]
    np.savez_compressed(written[0], positions_3d=positions_3d)
    np.savez_compressed(written[1], positions_2d=positions_2d, metadata=metadata)
    return written
