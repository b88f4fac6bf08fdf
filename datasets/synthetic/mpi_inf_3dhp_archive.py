"""Licence-free MPI-INF-3DHP stand-ins in the release's formats and in the preprocessed npz format.

``write_3dhp_mat(root)`` writes the release's layout (``docs/formats.md`` 2.1, 2.2)::

    S1/Seq1/annot.mat              MATLAB v5: annot2, annot3, univ_annot3 as (14, 1) cells, cameras, frames
    S1/Seq1/camera.calibration     Skeletool text calibration of 14 cameras
    mpi_inf_3dhp_test_set/TS1/annot_data.mat
                                   MATLAB v7.3 (HDF5, 512-byte MATLAB user block, dims reversed):
                                   annot2 (N, 1, 17, 2), annot3, univ_annot3 (N, 1, 17, 3), valid_frame,
                                   activity_annotation (N, 1)

The tests' ``write_3dhp_npz(root)`` (``tests/fixture_archives.py``) writes the same motion as P-STMO's
``data_train_3dhp.npz`` / ``data_test_3dhp.npz`` (docs/formats.md 2.4), so tests can check that both routes give
the same views.

Every fact about the format is written here as a literal read off docs/formats.md (joint orders, camera count and
sets, sequence lengths and rates, image sizes, units), and the 2D annotations come from a pinhole written out
here, not from ``datasets.mpi_inf_3dhp`` or ``datasets.cameras``: a reader that misreads the format then
disagrees with these files instead of sharing the misreading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.synthetic.h36m_archive import figure_motion
from datasets.units import MILLIMETRES_PER_METRE

MPI28_JOINTS = (
    "spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top", "left_clavicle", "left_shoulder",
    "left_elbow", "left_wrist", "left_hand", "right_clavicle", "right_shoulder", "right_elbow", "right_wrist",
    "right_hand", "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe", "right_hip", "right_knee",
    "right_ankle", "right_foot", "right_toe",
)  # fmt: skip
"""The 28-joint order of ``annot.mat`` (docs/formats.md 2.1, ``mpii_get_joints('all')``)."""
TEST17_FROM_MPI28 = (7, 5, 14, 15, 16, 9, 10, 11, 23, 24, 25, 18, 19, 20, 4, 3, 6)
"""The test set's 17 joints as 0-based indices into the 28 (docs/formats.md 2.2, ``'relevant'``)."""
PELVIS_MPI28, PELVIS_TEST17 = 4, 14
"""The root joint in either order (docs/formats.md 2.1, 2.2)."""
CAMERAS = 14
"""Training cameras 0..13, all 2048 x 2048 (docs/formats.md 2.1)."""
VNECT = (0, 1, 2, 4, 5, 6, 7, 8)
"""The camera set of P-STMO's npz files (docs/formats.md 2.1, 2.4)."""
SEQUENCE_INFO = {
    ("S1", "Seq1"): (6416, 25), ("S1", "Seq2"): (12430, 50), ("S2", "Seq1"): (6502, 25), ("S2", "Seq2"): (6081, 25),
    ("S3", "Seq1"): (12488, 50), ("S3", "Seq2"): (12283, 50), ("S4", "Seq1"): (6171, 25), ("S4", "Seq2"): (6675, 25),
    ("S5", "Seq1"): (12820, 50), ("S5", "Seq2"): (12312, 50), ("S6", "Seq1"): (6188, 25), ("S6", "Seq2"): (6145, 25),
    ("S7", "Seq1"): (6239, 25), ("S7", "Seq2"): (6320, 25), ("S8", "Seq1"): (6468, 25), ("S8", "Seq2"): (6054, 25),
}  # fmt: skip
"""(frames F, fps) per training sequence (docs/formats.md 2.1, ``mpii_get_sequence_info``)."""
STUDIO_FX, OUTDOOR_FX = 7.32506 / 10 * 2048, 8.770747185 / 10 * 1920
TEST_INTRINSICS = {
    "studio": (STUDIO_FX, STUDIO_FX * 1.00044, 1024 - 0.0322884 / 10 * 2048, 1024 + 0.0929296 / 10 * 2048),
    "outdoor": (OUTDOOR_FX, OUTDOOR_FX * 0.993236423, 960 - 0.104908645 / 10 * 1920, 540 + 0.104899704 / 5.625 * 1080),
}
"""(fx, fy, cx, cy) pixels of the test cameras from the official calibration text, read as docs/formats.md 2.2 records
it (measured on the real test annotations): fx = focal mm / sensor width mm * width, fy = fx * pixelAspect (not
divided), principal point = image centre + centreOffset mm in pixels; studio ``cam_8`` (TS1-TS4, 2048 x 2048),
GoPro (TS5, TS6, 1920 x 1080, 10 x 5.625 mm sensor). ``annot2`` is the pinhole projection of ``annot3`` with
no distortion in every test sequence: the GoPro's coefficients describe its video, not the annotations."""
MILLIMETRES = 1000.0
"""``annot3``, ``univ_annot3`` and calibration translations are millimetres (docs/formats.md 2.1, 2.2)."""
_MPI28_FROM_FIGURE = {"spine3": "chest", "spine4": "thorax", "spine2": "spine_mid"}
UNIVERSAL_SCALE = 0.93
"""Stand-in for the rescaling of ``univ_annot3`` to the universal skeleton (about the pelvis, camera frame)."""
CAMERA_RING_RADIUS = 4.2
"""Distance (metres) of the 11 wall cameras from the capture volume's centre."""


@dataclass(frozen=True)
class PinholeCamera:
    """A distortion-free camera: ``x_camera = rotation @ x_world + translation`` (metres), then pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    rotation: np.ndarray
    translation: np.ndarray

    def to_camera(self, world: np.ndarray) -> np.ndarray:
        """(..., 3) world metres -> (..., 3) camera metres (x right, y down, z ahead)."""
        return world @ self.rotation.T + self.translation

    def pixels(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera metres -> (..., 2) pixels: ``(fx x / z + cx, fy y / z + cy)``."""
        return np.array([self.fx, self.fy]) * points[..., :2] / points[..., 2:] + np.array([self.cx, self.cy])


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
        unknown = [(s, q) for s in self.subjects for q in self.sequences if (s, q) not in SEQUENCE_INFO]
        if unknown:
            raise ValueError(f"MpiInf3dhpArchiveSpec: no such training sequences {unknown}")
        if self.frames < 1 or self.test_frames < 1:
            raise ValueError(f"frames and test_frames must be positive, got {self.frames}, {self.test_frames}")


def _looking_at_centre(position: np.ndarray, fx: float, fy: float, cx: float, cy: float) -> PinholeCamera:
    """A camera at ``position`` (world metres, z up) aimed at (0, 0, 0.9): rows of R are right, down, forward."""
    forward = np.array([0.0, 0.0, 0.9]) - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    rotation = np.stack([right, np.cross(forward, right), forward])
    return PinholeCamera(fx, fy, cx, cy, rotation, -rotation @ position)


def training_cameras(seed: int) -> list[PinholeCamera]:
    """14 cameras: 0-10 on a ring at chest to head height, 11-13 on the ceiling, all looking at the centre."""
    rng = np.random.default_rng([seed, 14])
    cameras = []
    for index in range(CAMERAS):
        angle = 2 * np.pi * index / 11 + rng.uniform(-0.1, 0.1)
        radius, height = (CAMERA_RING_RADIUS, 0.8 + 0.3 * (index % 4)) if index < 11 else (1.8, 3.2)
        position = np.array([radius * np.cos(angle), radius * np.sin(angle), height])
        fx = 1500.0 + rng.uniform(-20, 20)
        fy, cx, cy = fx * (1 + rng.uniform(-1e-3, 1e-3)), 1024 + rng.uniform(-15, 15), 1024 + rng.uniform(-15, 15)
        cameras.append(_looking_at_centre(position, fx, fy, cx, cy))
    return cameras


def camera_of_test(sequence: str) -> PinholeCamera:
    """The studio (TS1-TS4) or outdoor (TS5, TS6) camera of ``TEST_INTRINSICS``, at the origin of its frame."""
    fx, fy, cx, cy = TEST_INTRINSICS["outdoor" if sequence in ("TS5", "TS6") else "studio"]
    return PinholeCamera(fx, fy, cx, cy, np.eye(3), np.zeros(3))


def _figure_mpi28(frames: int, profile: str, seed: int) -> np.ndarray:
    """(T, 28, 3) world metres: the synthetic figure's points in the 28-joint order."""
    points = figure_motion(frames, 25.0, profile, seed)
    return np.stack([points[_MPI28_FROM_FIGURE.get(name, name)] for name in MPI28_JOINTS], axis=1)


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
            world = _figure_mpi28(spec.frames, profile, seed)
            content: dict[str, list[np.ndarray]] = {"annot2": [], "annot3": [], "univ_annot3": []}
            for camera in cameras:
                points = camera.to_camera(world)
                millimetres = points * MILLIMETRES_PER_METRE
                content["annot2"].append(camera.pixels(points).reshape(spec.frames, 56))
                content["annot3"].append(millimetres.reshape(spec.frames, 84))
                content["univ_annot3"].append(_universal(millimetres, PELVIS_MPI28).reshape(spec.frames, 84))
            sequences[(subject, sequence)] = content
    return sequences


def synthetic_test(spec: MpiInf3dhpArchiveSpec) -> dict[str, dict[str, np.ndarray]]:
    """Per test sequence, squeezed: annot2 (N, 17, 2), annot3/univ_annot3 (N, 17, 3) mm, valid_frame, activity."""
    sequences = {}
    for index, sequence in enumerate(spec.test_sequences):
        world = _figure_mpi28(spec.test_frames, ("stand", "walk")[index % 2], spec.seed * 7919 + index)
        # Figure (z up, about the origin) placed 5 m in front of the test camera: x right, y down, z ahead.
        in_camera = np.stack([world[..., 0], 1.0 - world[..., 2], 5.0 + world[..., 1]], axis=-1)
        poses = in_camera[:, list(TEST17_FROM_MPI28)]
        valid = np.ones(spec.test_frames)
        valid[3:6] = 0.0
        sequences[sequence] = {
            "annot2": camera_of_test(sequence).pixels(poses),
            "annot3": poses * MILLIMETRES_PER_METRE,
            "univ_annot3": _universal(poses * MILLIMETRES_PER_METRE, PELVIS_TEST17),
            "valid_frame": valid,
            "activity_annotation": 1.0 + (np.arange(spec.test_frames) // 10) % 7,
        }
    return sequences


def write_calibration(path: Path, cameras: list[PinholeCamera]) -> None:
    """Write a Skeletool ``camera.calibration`` file (docs/formats.md 2.1): 7 lines per camera, mm extrinsics."""
    lines = ["Skeletool Camera Calibration File V1.0"]
    for index, camera in enumerate(cameras):
        intrinsic = [camera.fx, 0, camera.cx, 0, 0, camera.fy, camera.cy, 0, 0, 0, 1, 0, 0, 0, 0, 1]
        extrinsic = np.eye(4)
        extrinsic[:3, :3], extrinsic[:3, 3] = camera.rotation, camera.translation * MILLIMETRES_PER_METRE
        lines += [
            f"name          {index}",
            "  sensor      10 10",
            "  size        2048 2048",
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
        mat |= {"cameras": np.arange(CAMERAS)[None], "frames": np.arange(spec.frames)[:, None]}
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
