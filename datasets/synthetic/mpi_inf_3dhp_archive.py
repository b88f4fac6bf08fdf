"""Licence-free MPI-INF-3DHP stand-ins in the release's formats and in the preprocessed npz format.

``write_3dhp_mat(root)`` writes the release's layout (``../shared/reference/formats.md`` 2.1, 2.2)::

    S1/Seq1/annot.mat              MATLAB v5: annot2, annot3, univ_annot3 as (14, 1) cells, cameras, frames
    S1/Seq1/camera.calibration     Skeletool text calibration of 14 cameras
    mpi_inf_3dhp_test_set/TS1/annot_data.mat
                                   MATLAB v7.3 (HDF5, 512-byte MATLAB user block, dims reversed):
                                   annot2 (N, 1, 17, 2), annot3, univ_annot3 (N, 1, 17, 3), valid_frame,
                                   activity_annotation (N, 1)

``write_3dhp_npz(root)`` writes the same motion as P-STMO's ``data_train_3dhp.npz`` / ``data_test_3dhp.npz``
(formats.md 2.4), so tests can check that both routes give the same views.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.cameras import Camera, look_at_camera, project, world_to_camera
from datasets.mpi_inf_3dhp import CAMERA_COUNT, TRAIN_SEQUENCES, VNECT_CAMERAS, camera_of_test_sequence
from datasets.skeletons import convert_joints
from datasets.synthetic.h36m_archive import figure_joints, figure_motion
from datasets.units import MILLIMETRES_PER_METRE

_MPI28_FROM_FIGURE = {"spine3": "chest", "spine4": "thorax", "spine2": "spine_mid"}
UNIVERSAL_SCALE = 0.93
"""Stand-in for the rescaling of ``univ_annot3`` to the universal skeleton (about the pelvis, camera frame)."""
CAMERA_RING_RADIUS = 4.2
"""Distance (metres) of the 11 wall cameras from the capture volume's centre."""


@dataclass(frozen=True)
class MpiInf3dhpArchiveSpec:
    """What a synthetic MPI-INF-3DHP tree holds.

    Attributes:
        subjects: Training subjects (``"S1"``..``"S8"``), each with ``sequences``.
        sequences: ``"Seq1"`` and/or ``"Seq2"``.
        frames: Annotation rows per training sequence (the real files hold thousands).
        test_sequences: Test sequences (``"TS1"``..``"TS6"``); TS5/TS6 use the outdoor 1920x1080 camera.
        test_frames: Frames per test sequence.
        seed: Seeds every random choice.
    """

    subjects: tuple[str, ...] = ("S1", "S2")
    sequences: tuple[str, ...] = ("Seq1", "Seq2")
    frames: int = 30
    test_sequences: tuple[str, ...] = ("TS1", "TS5")
    test_frames: int = 40
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [(s, q) for s in self.subjects for q in self.sequences if (s, q) not in TRAIN_SEQUENCES]
        if unknown:
            raise ValueError(f"MpiInf3dhpArchiveSpec: no such training sequences {unknown}")
        if self.frames < 1 or self.test_frames < 1:
            raise ValueError(f"frames and test_frames must be positive, got {self.frames}, {self.test_frames}")


def training_cameras(seed: int) -> list[Camera]:
    """14 cameras: 0-10 on a ring at chest to head height, 11-13 on the ceiling, all looking at the centre."""
    rng = np.random.default_rng([seed, 14])
    cameras = []
    for index in range(CAMERA_COUNT):
        angle = 2 * np.pi * index / 11 + rng.uniform(-0.1, 0.1)
        radius, height = (CAMERA_RING_RADIUS, 0.8 + 0.3 * (index % 4)) if index < 11 else (1.8, 3.2)
        focal = 1500.0 + rng.uniform(-20, 20)
        cameras.append(
            look_at_camera(
                str(index), (radius * np.cos(angle), radius * np.sin(angle), height), (0.0, 0.0, 0.9),
                fx=focal, fy=focal * (1 + rng.uniform(-1e-3, 1e-3)), cx=1024 + rng.uniform(-15, 15),
                cy=1024 + rng.uniform(-15, 15), width=2048, height=2048,
            )
        )  # fmt: skip
    return cameras


def _universal(poses_mm: np.ndarray, pelvis_index: int) -> np.ndarray:
    """Scale poses about their pelvis, standing in for the release's universal-skeleton rescaling."""
    pelvis = poses_mm[:, pelvis_index : pelvis_index + 1]
    return pelvis + UNIVERSAL_SCALE * (poses_mm - pelvis)


def synthetic_training(spec: MpiInf3dhpArchiveSpec) -> dict[tuple[str, str], dict[str, list[np.ndarray]]]:
    """Per (subject, sequence): ``annot2`` (N, 56), ``annot3`` and ``univ_annot3`` (N, 84) per camera, float64."""
    cameras = training_cameras(spec.seed)
    sequences = {}
    for subject_index, subject in enumerate(spec.subjects):
        for sequence_index, sequence in enumerate(spec.sequences):
            seed = spec.seed * 1_000_003 + 100 * subject_index + sequence_index
            profile = ("walk", "stand", "jog", "sit")[(subject_index + 2 * sequence_index) % 4]
            world = figure_joints(figure_motion(spec.frames, 25.0, profile, seed), "mpi_inf_3dhp28", _MPI28_FROM_FIGURE)
            content: dict[str, list[np.ndarray]] = {"annot2": [], "annot3": [], "univ_annot3": []}
            for camera in cameras:
                points = np.asarray(world_to_camera(world, camera))
                millimetres = points * MILLIMETRES_PER_METRE
                content["annot2"].append(np.asarray(project(points, camera)).reshape(spec.frames, 56))
                content["annot3"].append(millimetres.reshape(spec.frames, 84))
                content["univ_annot3"].append(_universal(millimetres, 4).reshape(spec.frames, 84))
            sequences[(subject, sequence)] = content
    return sequences


def synthetic_test(spec: MpiInf3dhpArchiveSpec) -> dict[str, dict[str, np.ndarray]]:
    """Per test sequence, squeezed: annot2 (N, 17, 2), annot3/univ_annot3 (N, 17, 3) mm, valid_frame, activity."""
    sequences = {}
    for index, sequence in enumerate(spec.test_sequences):
        points = figure_motion(spec.test_frames, 25.0, ("stand", "walk")[index % 2], spec.seed * 7919 + index)
        world = figure_joints(points, "mpi_inf_3dhp28", _MPI28_FROM_FIGURE)
        # Figure (z up, about the origin) placed 5 m in front of the test camera: x right, y down, z ahead.
        in_camera = np.stack([world[..., 0], 1.0 - world[..., 2], 5.0 + world[..., 1]], axis=-1)
        poses = convert_joints(in_camera, "mpi_inf_3dhp28", "mpi_inf_3dhp17")
        valid = np.ones(spec.test_frames)
        valid[3:6] = 0.0
        sequences[sequence] = {
            "annot2": np.asarray(project(poses, camera_of_test_sequence(sequence))),
            "annot3": poses * MILLIMETRES_PER_METRE,
            "univ_annot3": _universal(poses * MILLIMETRES_PER_METRE, 14),
            "valid_frame": valid,
            "activity_annotation": 1.0 + (np.arange(spec.test_frames) // 10) % 7,
        }
    return sequences


def write_calibration(path: Path, cameras: list[Camera]) -> None:
    """Write a Skeletool ``camera.calibration`` file (formats.md 2.1): 7 lines per camera, mm extrinsics."""
    lines = ["Skeletool Camera Calibration File V1.0"]
    for camera in cameras:
        intrinsic = [camera.fx, 0, camera.cx, 0, 0, camera.fy, camera.cy, 0, 0, 0, 1, 0, 0, 0, 0, 1]
        extrinsic = np.eye(4)
        extrinsic[:3, :3], extrinsic[:3, 3] = camera.rotation, camera.translation * MILLIMETRES_PER_METRE
        lines += [
            f"name          {camera.name}",
            "  sensor      10 10",
            f"  size        {camera.width} {camera.height}",
            "  animated    0",
            "  intrinsic   " + " ".join(f"{v:.10g}" for v in intrinsic),
            "  extrinsic   " + " ".join(f"{v:.10g}" for v in extrinsic.ravel()),
            "  radial      0",
        ]
    path.write_text("\n".join(lines) + "\n")


def _cells(arrays: list[np.ndarray]) -> np.ndarray:
    """A MATLAB cell array as scipy.io writes and reads it: a (14, 1) object array."""
    cells = np.empty((len(arrays), 1), dtype=object)
    for index, array in enumerate(arrays):
        cells[index, 0] = array
    return cells


def write_matlab_v73(path: Path, datasets: dict[str, np.ndarray]) -> None:
    """Write HDF5 the way MATLAB's ``save -v7.3`` lays it out: 512-byte user block, ``MATLAB_class`` attributes.

    Arrays are given as h5py will read them (MATLAB dimensions reversed), e.g. (N, 1, 17, 3).
    """
    import h5py

    with h5py.File(path, "w", userblock_size=512) as file:
        for name, values in datasets.items():
            file.create_dataset(name, data=np.asarray(values, dtype=np.float64))
            file[name].attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by mocaplift's synthetic archive HDF5 schema 1.00 ."
    with open(path, "r+b") as file:
        file.write(header.ljust(116) + b"\0" * 8 + b"\x00\x02" + b"IM")


def write_3dhp_mat(root: Path, spec: MpiInf3dhpArchiveSpec = MpiInf3dhpArchiveSpec()) -> list[Path]:
    """Write the release-format tree (training ``annot.mat`` + calibration, test ``annot_data.mat``).

    Returns:
        The files written.
    """
    from scipy.io import savemat

    written = []
    cameras = training_cameras(spec.seed)
    for (subject, sequence), content in synthetic_training(spec).items():
        folder = root / subject / sequence
        folder.mkdir(parents=True, exist_ok=True)
        mat = {name: _cells(arrays) for name, arrays in content.items()}
        mat |= {"cameras": np.arange(CAMERA_COUNT)[None], "frames": np.arange(spec.frames)[:, None]}
        savemat(folder / "annot.mat", mat)
        write_calibration(folder / "camera.calibration", cameras)
        written += [folder / "annot.mat", folder / "camera.calibration"]
    for sequence, content in synthetic_test(spec).items():
        folder = root / "mpi_inf_3dhp_test_set" / sequence
        folder.mkdir(parents=True, exist_ok=True)
        datasets = {name: values[:, None] for name, values in content.items()}  # MATLAB's person axis
        write_matlab_v73(folder / "annot_data.mat", datasets)
        written.append(folder / "annot_data.mat")
    return written


def write_3dhp_npz(root: Path, spec: MpiInf3dhpArchiveSpec = MpiInf3dhpArchiveSpec()) -> list[Path]:
    """Write P-STMO's ``data_train_3dhp.npz`` (vnect cameras) and ``data_test_3dhp.npz`` from the same motion.

    Returns:
        The files written.
    """
    root.mkdir(parents=True, exist_ok=True)
    train = {}
    for (subject, sequence), content in synthetic_training(spec).items():
        frames, fps = TRAIN_SEQUENCES[(subject, sequence)]
        per_camera = {}
        for camera in VNECT_CAMERAS:
            keypoints = content["annot2"][camera][:frames].reshape(-1, 28, 2)
            poses = content["univ_annot3"][camera][:frames].reshape(-1, 28, 3)
            per_camera[str(camera)] = {
                "data_2d": convert_joints(keypoints, "mpi_inf_3dhp28", "mpi_inf_3dhp17"),
                "data_3d": convert_joints(poses, "mpi_inf_3dhp28", "mpi_inf_3dhp17"),
            }
        train[f"{subject} {sequence}"] = [per_camera, int(fps)]
    test = {
        sequence: {"data_2d": c["annot2"], "data_3d": c["univ_annot3"], "valid": c["valid_frame"]}
        for sequence, c in synthetic_test(spec).items()
    }
    written = [root / "data_train_3dhp.npz", root / "data_test_3dhp.npz"]
    np.savez_compressed(written[0], data=train)
    np.savez_compressed(written[1], data=test)
    return written
