"""A small, licence-free AMASS archive in the real file formats.

``build_demo_amass(root)`` writes everything ``preprocess-amass`` needs, deterministically (same bytes on
every run): synthetic body models in AMASS's layout, a synthetic H36M regressor (SPIN's row order, like the
file most people have), and an archive of procedural motions: several sub-datasets (train ones and the
validation sub-dataset SFU), subjects of both genders, walking, turning, sitting, jumping, waving and
gesturing at 60, 100 and 120 Hz, one subject one folder deeper (as some archives unpack), per-subject
``shape.npz`` files (skipped by discovery), one gender stored as bytes, and one SMPL-X "N" file.

The tests add one bad file per rejection reason to such a tree (``tests/fixture_archives.py``); the demo
body models deliberately omit ``SMPLX_FEMALE.npz`` so that a female SMPL-X file has no model.

    >>> len(DEMO_FILES), sorted({spec.fps for spec in DEMO_FILES}), sorted({spec.model_type for spec in DEMO_FILES})
    (21, [60.0, 100.0, 120.0], ['smplh', 'smplx'])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from datasets.synthetic.amass_motion import Motion, generate_motion, smooth_noise
from datasets.synthetic.body_model import (
    NUM_DMPL_COMPONENTS,
    NUM_SHAPE_COMPONENTS,
    smplh_model_arrays,
    write_body_models,
    write_h36m_regressor,
    write_npz,
)
from datasets.synthetic.body_template import GENDERS

DEMO_SEED = 3
"""Seed of the demo archive's subject shapes and motion variations."""

DEMO_REGRESSOR_ORDER = "spin"
"""Row order of the demo regressor file (SPIN's, left leg first)."""


DEMO_SMPLX_GENDERS = ("male", "neutral")
"""SMPL-X models in the demo: no female one, so a female SMPL-X file is rejected for a missing model."""


@dataclass(frozen=True)
class ArchiveFile:
    """One motion file of the demo archive.

    Attributes:
        relative_path: Path below the archive root.
        motion: Kind of motion (``datasets.synthetic.amass_motion.MOTIONS``).
        fps: Frame rate, Hz.
        seconds: Duration.
        gender: Subject gender.
        model_type: ``"smplh"`` (``*_poses.npz``) or ``"smplx"`` (``*_stageii.npz``).
        bytes_gender: Store the gender as bytes (``b'female'``), as some files do.
    """

    relative_path: str
    motion: str
    fps: float
    seconds: float
    gender: str
    model_type: str = "smplh"
    bytes_gender: bool = False


DEMO_FILES = (
    ArchiveFile("CMU/01/01_01_poses.npz", "walk", 120.0, 3.0, "male"),
    ArchiveFile("CMU/01/01_02_poses.npz", "jump", 120.0, 2.0, "male"),
    ArchiveFile("CMU/02/02_01_poses.npz", "turn", 120.0, 3.0, "female", bytes_gender=True),
    ArchiveFile("KIT/3/walking_slow01_poses.npz", "walk", 100.0, 2.5, "female"),
    ArchiveFile("KIT/3/sit_down02_poses.npz", "sit", 100.0, 2.5, "female"),
    ArchiveFile("ACCAD/Male1General_c3d/General_A1_-_Stand_poses.npz", "wave", 120.0, 2.0, "male"),
    ArchiveFile("BMLrub/BioMotionLab_NTroje/rub001/0001_treadmill_norm_poses.npz", "walk", 120.0, 2.0, "male"),
    ArchiveFile("EyesJapanDataset/aita/jump-01-hop-aita_poses.npz", "jump", 60.0, 2.0, "female"),
    ArchiveFile("SFU/0005/0005_Walking001_poses.npz", "walk", 120.0, 2.5, "male"),
    ArchiveFile("SFU/0007/0007_Turn001_poses.npz", "turn", 100.0, 2.5, "female"),
    ArchiveFile("TotalCapture/s1/walking1_stageii.npz", "walk", 60.0, 3.0, "male", model_type="smplx"),
    ArchiveFile("ACCAD/Female1General_c3d/General_A2_-_Sway_poses.npz", "gesture", 120.0, 3.0, "female"),
    ArchiveFile("ACCAD/Male1General_c3d/General_A4_-_Look_poses.npz", "gesture", 120.0, 3.0, "male"),
    ArchiveFile("CMU/03/03_01_poses.npz", "walk", 120.0, 3.0, "male"),
    ArchiveFile("CMU/03/03_02_poses.npz", "sit", 120.0, 3.0, "male"),
    ArchiveFile("KIT/4/sit_down01_poses.npz", "sit", 100.0, 3.0, "male"),
    ArchiveFile("KIT/4/turn_left01_poses.npz", "turn", 100.0, 3.0, "male"),
    ArchiveFile("BMLrub/BioMotionLab_NTroje/rub002/0002_sitting_poses.npz", "sit", 120.0, 3.0, "female"),
    ArchiveFile("BMLrub/BioMotionLab_NTroje/rub002/0003_gestures_poses.npz", "gesture", 120.0, 3.0, "female"),
    ArchiveFile("EyesJapanDataset/kanno/greeting-01-kanno_poses.npz", "gesture", 60.0, 3.0, "male"),
    ArchiveFile("SFU/0008/0008_Gesture001_poses.npz", "gesture", 120.0, 2.5, "female"),
)
"""The demo archive's motion files (sub-dataset names as AMASS-to-3DHPE spells them)."""


@dataclass(frozen=True)
class DemoAmassPaths:
    """Where ``build_demo_amass`` put things.

    Attributes:
        amass_root: The archive (``<root>/amass``).
        body_models: Body models in AMASS's layout (``<root>/body_models``).
        regressor: The 17 x V regressor ``.npy``.
        regressor_order: Its row order (``"spin"``).
    """

    amass_root: Path
    body_models: Path
    regressor: Path
    regressor_order: str = DEMO_REGRESSOR_ORDER


def _subject_betas(relative_path: str) -> np.ndarray:
    """(16,) shape of the subject folder holding ``relative_path``, the same for all its files."""
    subject = str(Path(relative_path).parent)
    seed = [DEMO_SEED, *subject.encode()]
    return np.random.default_rng(seed).normal(0.0, 0.8, NUM_SHAPE_COMPONENTS)


@lru_cache(maxsize=len(GENDERS))
def _shape_space(gender: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The synthetic SMPL+H model's v_template, shapedirs and pelvis regressor row."""
    arrays = smplh_model_arrays(gender)
    return arrays["v_template"], arrays["shapedirs"], arrays["J_regressor"][0]


def _body_rest(gender: str, betas: np.ndarray) -> tuple[np.ndarray, float]:
    """Rest pelvis joint (3,) and standing pelvis height of the synthetic model for these betas."""
    v_template, shapedirs, pelvis_row = _shape_space(gender)
    shaped = v_template + shapedirs @ betas
    pelvis = pelvis_row @ shaped
    return pelvis, float(pelvis[1] - shaped[:, 1].min())


def motion_arrays(spec: ArchiveFile) -> dict[str, np.ndarray]:
    """The arrays of one demo file, in its format's keys (docs/formats.md 4.2 for SMPL+H, 4.3 for SMPL-X)."""
    rng = np.random.default_rng([DEMO_SEED, *spec.relative_path.encode()])
    betas = _subject_betas(spec.relative_path)
    frames = int(round(spec.seconds * spec.fps))
    pelvis_rest, pelvis_height = _body_rest(spec.gender, betas)
    motion: Motion = generate_motion(spec.motion, frames, spec.fps, pelvis_rest, pelvis_height, rng)
    gender = np.array(spec.gender.encode()) if spec.bytes_gender else np.array(spec.gender)
    if spec.model_type == "smplh":
        return {
            "poses": motion.poses, "trans": motion.trans, "betas": betas, "gender": gender,
            "mocap_framerate": np.array(spec.fps), "dmpls": smooth_noise(frames, NUM_DMPL_COMPONENTS, rng),
        }  # fmt: skip
    jaw = np.zeros((frames, 3))
    jaw[:, 0] = 0.1 + 0.05 * np.sin(np.arange(frames) / spec.fps * 2 * np.pi)
    poses = np.concatenate([motion.poses[:, :66], jaw, np.zeros((frames, 6)), motion.poses[:, 66:]], axis=1)
    markers = rng.normal(0.0, 0.3, size=(12, 3))
    labels = np.array([f"M{k:02d}" for k in range(len(markers))])
    return {
        "gender": gender, "surface_model_type": np.array("smplx"), "mocap_frame_rate": np.array(spec.fps),
        "mocap_time_length": np.array(frames / spec.fps), "markers_latent": markers, "latent_labels": labels,
        "markers_latent_vids": np.array({str(label): k for k, label in enumerate(labels)}, dtype=object),
        "trans": motion.trans, "poses": poses, "betas": betas, "num_betas": np.array(NUM_SHAPE_COMPONENTS),
        "root_orient": poses[:, :3], "pose_body": poses[:, 3:66], "pose_hand": poses[:, 75:165],
        "pose_jaw": poses[:, 66:69], "pose_eye": poses[:, 69:75],
    }  # fmt: skip


def write_demo_archive(amass_root: Path, files: tuple[ArchiveFile, ...] = DEMO_FILES) -> list[Path]:
    """Write the motion files (and a ``shape.npz`` per SMPL+H subject) under ``amass_root``.

    Returns:
        The motion files written, in ``files`` order.
    """
    written = []
    for spec in files:
        path = write_npz(amass_root / spec.relative_path, motion_arrays(spec))
        written.append(path)
        if spec.model_type == "smplh":
            shape = {"betas": _subject_betas(spec.relative_path), "gender": np.array(spec.gender)}
            write_npz(path.parent / "shape.npz", shape)
    return written


def build_demo_amass(root: Path) -> DemoAmassPaths:
    """Write the licence-free demo: body models, regressor and archive (deterministic bytes).

    Args:
        root: Directory to fill (created if needed); existing demo files are overwritten identically.

    Returns:
        The paths to pass to the conversion.
    """
    root = Path(root)
    paths = DemoAmassPaths(
        amass_root=root / "amass",
        body_models=root / "body_models",
        regressor=root / "J_regressor_h36m_synthetic.npy",
    )
    write_body_models(paths.body_models, smplh_genders=GENDERS, smplx_genders=DEMO_SMPLX_GENDERS)
    write_h36m_regressor(paths.regressor, DEMO_REGRESSOR_ORDER)
    write_demo_archive(paths.amass_root)
    return paths
