"""MPI-INF-3DHP reader: the release's MATLAB files or the widely shared preprocessed npz files -> views.

One entry point, ``read_3dhp(source, format=None, options=MpiInf3dhpOptions())``, returns a ``ReadResult``
with one view per (sequence, camera): ``joints_3d`` the 17 standard joints (``h36m17``), camera frame,
metres; ``keypoints_2d`` the source's own ground-truth 2D; ``valid`` the test set's ``valid_frame``; and,
for the test set read from MATLAB, ``per_frame[i]["activity"]`` (int16 codes 1..7). Sources
(``docs/formats.md`` 2.1, 2.2, 2.4)::

    mat   S<s>/Seq<q>/annot.mat + camera.calibration       training, MATLAB v5 (scipy.io), 28 joints, mm
          [mpi_inf_3dhp_test_set/]TS<k>/annot_data.mat      test, MATLAB v7.3 = HDF5 (h5py), 17 joints, mm
    npz   data_train_3dhp.npz, data_test_3dhp.npz            P-STMO/MotionAGFormer preprocessing, 17 joints, mm

Conventions and choices:

- ``joints_3d`` comes from ``univ_annot3`` (the evaluation ground truth, rescaled to Human3.6M's universal
  skeleton, and what the npz files hold); ``annotation="annot3"`` reads the metric one instead.
  ``univ_annot3`` does not reproject onto ``annot2``; ``annot3`` does.
- Training rows beyond the video's frame count F (official ``mpii_get_sequence_info``) are cut, as the
  official README says; files with fewer rows than F are read whole, with a note.
- Training cameras default to the 8 of the official ``vnect`` camera set [0, 1, 2, 4, 5, 6, 7, 8], which
  P-STMO, MotionAGFormer, mmpose and mmhuman3d use; ``options.cameras`` chooses others.
- Training cameras come from ``camera.calibration``. The npz files carry no calibration: when the folder
  has no ``S*/Seq*/camera.calibration`` either, the cameras have unknown (NaN) intrinsics and identity
  extrinsics, like ``datasets.camera_rigs.humaneva_cameras``.
- Test cameras come from the official test calibration (``test_util/camera_calibration``; numbers and
  conversion in ``datasets.mpi_inf_3dhp_cameras``), so both test sources give the same views. Its millimetre
  sensor units become pixels as docs/formats.md 2.2 records, measured on the real annotations: ``fx = focal /
  sensor_width * width``, ``fy = fx * pixel_aspect``, principal point = image centre + centre offset, and no
  distortion (the GoPro's coefficients describe its video; ``annot2`` is the pinhole projection of ``annot3``).
- Test frame rates are not documented (docs/formats.md 2.2): ``TEST_FPS`` assumes 25 Hz for the studio sequences
  TS1-TS4 and 50 Hz for the outdoor GoPro sequences TS5-TS6 [unconfirmed]; ``options.test_fps`` overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets.benchmark_config import Mpi3dhpAnnotation, Mpi3dhpFormat, choices
from datasets.cameras import Camera
from datasets.errors import reraise_if_environment
from datasets.mpi_inf_3dhp_cameras import camera_of_test_sequence, read_calibration
from datasets.skeletons import convert_joints
from datasets.units import MILLIMETRES_PER_METRE
from datasets.videopose3d import ReadResult, detect_source_format, load_object_npz, pose_array_problem
from datasets.views import View

DATASET = "mpi_inf_3dhp"
FORMATS = choices(Mpi3dhpFormat)
SKELETON = "h36m17"
TRAIN_SKELETON, TEST_SKELETON = "mpi_inf_3dhp28", "mpi_inf_3dhp17"
ANNOTATIONS = choices(Mpi3dhpAnnotation)
CAMERA_COUNT = 14
VNECT_CAMERAS = (0, 1, 2, 4, 5, 6, 7, 8)
"""Official ``mpii_get_camera_set('vnect')``: the training cameras the lifting literature uses (docs/formats.md 2.1)."""
TRAIN_IMAGE_SIZE = (2048, 2048)

# (frames F, fps) per training sequence, official mpii_get_sequence_info (docs/formats.md 2.1 table).
TRAIN_SEQUENCES: Mapping[tuple[str, str], tuple[int, float]] = {
    ("S1", "Seq1"): (6416, 25.0), ("S1", "Seq2"): (12430, 50.0), ("S2", "Seq1"): (6502, 25.0),
    ("S2", "Seq2"): (6081, 25.0), ("S3", "Seq1"): (12488, 50.0), ("S3", "Seq2"): (12283, 50.0),
    ("S4", "Seq1"): (6171, 25.0), ("S4", "Seq2"): (6675, 25.0), ("S5", "Seq1"): (12820, 50.0),
    ("S5", "Seq2"): (12312, 50.0), ("S6", "Seq1"): (6188, 25.0), ("S6", "Seq2"): (6145, 25.0),
    ("S7", "Seq1"): (6239, 25.0), ("S7", "Seq2"): (6320, 25.0), ("S8", "Seq1"): (6468, 25.0),
    ("S8", "Seq2"): (6054, 25.0),
}  # fmt: skip

TEST_SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
TEST_FPS: Mapping[str, float] = {"TS1": 25.0, "TS2": 25.0, "TS3": 25.0, "TS4": 25.0, "TS5": 50.0, "TS6": 50.0}
"""Assumed test frame rates [unconfirmed, docs/formats.md 2.2]: studio 25 Hz, outdoor GoPro 50 Hz."""


TRAIN_MAT_PATTERN = "S*/Seq*/annot.mat"
TEST_MAT_PATTERNS = ("TS*/annot_data.mat", "*/TS*/annot_data.mat", "*/*/TS*/annot_data.mat")
TRAIN_NPZ, TEST_NPZ = "data_train_3dhp.npz", "data_test_3dhp.npz"
CALIBRATION_FILE = "camera.calibration"


@dataclass(frozen=True)
class MpiInf3dhpOptions:
    """Choices when reading MPI-INF-3DHP.

    Attributes:
        cameras: Training cameras to read (0..13); default the ``vnect`` set.
        annotation: ``"univ_annot3"`` (evaluation ground truth, default) or ``"annot3"`` (MATLAB files only).
        test_fps: Frame rate per test sequence, Hz.
    """

    cameras: tuple[int, ...] = VNECT_CAMERAS
    annotation: str = "univ_annot3"
    test_fps: Mapping[str, float] = field(default_factory=lambda: dict(TEST_FPS))

    def __post_init__(self) -> None:
        if not self.cameras or any(not 0 <= c < CAMERA_COUNT for c in self.cameras):
            raise ValueError(f"cameras must be a non-empty subset of 0..{CAMERA_COUNT - 1}, got {self.cameras}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must not repeat, got {self.cameras}")
        if self.annotation not in ANNOTATIONS:
            raise ValueError(f"annotation must be one of {ANNOTATIONS}, got {self.annotation!r}")
        missing = [s for s in TEST_SEQUENCES if s not in self.test_fps or not self.test_fps[s] > 0]
        if missing:
            raise ValueError(f"test_fps needs a positive rate for every test sequence, missing {missing}")


def _uncalibrated_camera(index: int) -> Camera:
    """A training camera of unknown intrinsics whose frame is the world (the npz files hold camera frames)."""
    nan = float("nan")
    return Camera(str(index), nan, nan, nan, nan, *TRAIN_IMAGE_SIZE, np.eye(3), np.zeros(3))


def detect_format(source: Path) -> str:
    """Which MPI-INF-3DHP source ``source`` holds: ``"mat"`` or ``"npz"``.

    Raises:
        FileNotFoundError: Neither is there; the message names the files expected.
        ValueError: Both are there; pass ``format=`` to choose.
    """
    source = Path(source)
    present = {
        "mat": bool(_train_mat_files(source) or _test_mat_files(source)),
        "npz": (source / TRAIN_NPZ).is_file() or (source / TEST_NPZ).is_file(),
    }
    expected = (
        f"{TRAIN_MAT_PATTERN} (with {CALIBRATION_FILE}) and/or mpi_inf_3dhp_test_set/TS*/annot_data.mat, "
        f"or {TRAIN_NPZ} / {TEST_NPZ}"
    )
    return detect_source_format(source, present, "MPI-INF-3DHP", expected)


def _train_mat_files(source: Path) -> list[Path]:
    return sorted(source.glob(TRAIN_MAT_PATTERN), key=lambda p: (int(p.parent.parent.name[1:] or 0), p.parent.name))


def _test_mat_files(source: Path) -> list[Path]:
    return sorted({path for pattern in TEST_MAT_PATTERNS for path in source.glob(pattern)}, key=lambda p: p.parent.name)


def read_3dhp(source: Path, format: str | None = None, options: MpiInf3dhpOptions | None = None) -> ReadResult:
    """Read an MPI-INF-3DHP source folder (training and/or test set) into views of the 17 standard joints.

    Args:
        source: Folder holding one of the ``FORMATS`` (see the module docstring).
        format: ``"mat"`` or ``"npz"``; detected when None.
        options: Cameras, annotation and test frame rates; defaults when None.

    Returns:
        Training views (subject, sequence, camera order), then test views (TS1..TS6).
    """
    source = Path(source)
    options = options or MpiInf3dhpOptions()
    format = format or detect_format(source)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if format == "npz" and options.annotation != "univ_annot3":
        raise ValueError(f"format='npz' holds univ_annot3 only, but options.annotation={options.annotation!r}")
    result = ReadResult(skeleton=SKELETON)
    if format == "mat":
        for path in result.usable(_train_mat_files(source), source):
            _read_train_mat(path, options, result)
        for path in result.usable(_test_mat_files(source), source):
            _read_test_mat(path, options, result)
    else:
        present = [path for path in (source / TRAIN_NPZ, source / TEST_NPZ) if path.exists() or path.is_symlink()]
        for path in result.usable(present, source):
            if path.name == TRAIN_NPZ:
                _read_train_npz(path, source, options, result)
            else:
                _read_test_npz(path, options, result)
    return result


def _add_view(
    result: ReadResult,
    where: str,
    *,
    subset: str,
    subject: str,
    sequence: str,
    fps: float,
    camera: Camera,
    poses_mm: np.ndarray,
    keypoints: np.ndarray,
    source_skeleton: str,
    valid: np.ndarray | None = None,
    per_frame: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Add one (sequence, camera) item as a view: (T, J, 3) mm and (T, J, 2) px in ``source_skeleton`` order.

    The item is rejected instead (``where`` says which) when its arrays are unusable or disagree in length.
    """
    joints = (28,) if source_skeleton == TRAIN_SKELETON else (17,)
    problem = pose_array_problem(poses_mm, joints, (3,)) or pose_array_problem(keypoints, joints, (2,))
    if problem is None and len(poses_mm) != len(keypoints):
        problem = ("length_mismatch", f"{len(poses_mm)} 3D frames but {len(keypoints)} 2D frames")
    if problem is None and valid is not None and len(valid) != len(poses_mm):
        problem = ("length_mismatch", f"{len(poses_mm)} pose frames but {len(valid)} valid_frame entries")
    if problem is not None:
        result.reject(where, *problem)
        return
    metres = convert_joints(np.asarray(poses_mm, dtype=np.float64), source_skeleton, SKELETON) / MILLIMETRES_PER_METRE
    keypoints = convert_joints(np.asarray(keypoints), source_skeleton, SKELETON).astype(np.float32)
    valid = None if valid is None else np.asarray(valid).astype(bool)
    view = View(
        DATASET, subset, subject, "", sequence, subset, fps, camera, metres.astype(np.float32), keypoints, valid=valid
    )
    result.add_view(view, per_frame)


def _cell(cells: np.ndarray, camera: int) -> np.ndarray | None:
    """Camera ``camera``'s array of a MATLAB cell array loaded as a (14, 1) object array, or None."""
    flat = np.asarray(cells).reshape(-1)
    return np.asarray(flat[camera]) if flat.dtype == object and camera < len(flat) else None


def _read_train_mat(path: Path, options: MpiInf3dhpOptions, result: ReadResult) -> None:
    """Views of one ``S<s>/Seq<q>/annot.mat`` (MATLAB v5: cells of (N, 56) pixels and (N, 84) mm)."""
    from scipy.io import loadmat

    subject, sequence = path.parent.parent.name, path.parent.name
    if (subject, sequence) not in TRAIN_SEQUENCES:
        result.reject(path, "unknown_sequence", f"{subject}/{sequence} is not an MPI-INF-3DHP training sequence")
        return
    frames, fps = TRAIN_SEQUENCES[(subject, sequence)]
    try:
        annotations = loadmat(path)
        cells_2d, cells_3d = annotations["annot2"], annotations[options.annotation]
    except (OSError, ValueError, KeyError, TypeError) as error:
        reraise_if_environment(error)
        result.reject(path, "unreadable_file", f"scipy.io.loadmat cannot read annot2/{options.annotation}: {error}")
        return
    try:
        cameras = read_calibration(path.parent / CALIBRATION_FILE)
    except (OSError, ValueError) as error:
        reraise_if_environment(error)
        result.reject(path.parent / CALIBRATION_FILE, "missing_calibration", str(error))
        return
    short = False
    for camera in options.cameras:
        where = f"{path}::camera {camera}"
        keypoints, poses = _cell(cells_2d, camera), _cell(cells_3d, camera)
        if keypoints is None or poses is None or camera not in cameras:
            result.reject(where, "missing_camera", f"no annot2/{options.annotation} cell or calibration for it")
            continue
        if keypoints.ndim != 2 or poses.ndim != 2 or keypoints.shape[1] != 56 or poses.shape[1] != 84:
            detail = f"expected (N, 56) and (N, 84) cells, got {keypoints.shape} and {poses.shape}"
            result.reject(where, "wrong_joint_count", detail)
            continue
        short = short or min(len(keypoints), len(poses)) < frames
        _add_view(
            result, where, subset="train", subject=subject, sequence=sequence, fps=fps, camera=cameras[camera],
            poses_mm=poses[:frames].reshape(-1, 28, 3), keypoints=keypoints[:frames].reshape(-1, 28, 2),
            source_skeleton=TRAIN_SKELETON,
        )  # fmt: skip
    if short:
        result.notes.append(f"{subject}/{sequence}: annotation rows fewer than its {frames} video frames, read whole")


def _squeeze_person_axis(values: np.ndarray) -> np.ndarray:
    """Drop MATLAB's singleton axis as h5py sees it: (N, 1, 17, C) -> (N, 17, C); (N, 1) or (1, N) -> (N,)."""
    values = np.asarray(values)
    if values.ndim == 2 and 1 in values.shape:  # per-frame vectors: MATLAB 1 x N or N x 1
        return values.reshape(-1)
    return values.squeeze(axis=1) if values.ndim > 2 and values.shape[1] == 1 else values


def _add_test_view(
    result: ReadResult, where: str, sequence: str, fields: Mapping[str, np.ndarray], options: MpiInf3dhpOptions
) -> None:
    """Add one test sequence from its squeezed fields (``poses``, ``keypoints``, ``valid``, maybe ``activity``)."""
    if sequence not in TEST_SEQUENCES:
        result.reject(where, "unknown_sequence", f"{sequence} is not an MPI-INF-3DHP test sequence")
        return
    activity = fields.get("activity")
    if activity is None:
        result.notes.append(f"{where}: no activity_annotation, so no per-frame activity")
    elif len(activity) != len(fields["valid"]):
        result.reject(where, "length_mismatch", f"{len(activity)} activity labels for {len(fields['valid'])} frames")
        return
    _add_view(
        result, where, subset="test", subject=sequence, sequence=sequence, fps=options.test_fps[sequence],
        camera=camera_of_test_sequence(sequence), poses_mm=fields["poses"], keypoints=fields["keypoints"],
        source_skeleton=TEST_SKELETON, valid=np.asarray(fields["valid"]) != 0,
        per_frame=None if activity is None else {"activity": np.asarray(activity).astype(np.int16)},
    )  # fmt: skip


def _read_test_mat(path: Path, options: MpiInf3dhpOptions, result: ReadResult) -> None:
    """The view of one ``TS<k>/annot_data.mat`` (MATLAB v7.3 = HDF5; h5py sees MATLAB's dims reversed)."""
    import h5py

    names = {"poses": options.annotation, "keypoints": "annot2", "valid": "valid_frame"}
    try:
        with h5py.File(path, "r") as content:
            fields = {ours: _squeeze_person_axis(content[theirs][()]) for ours, theirs in names.items()}
            if "activity_annotation" in content:
                fields["activity"] = _squeeze_person_axis(content["activity_annotation"][()])
    except (OSError, KeyError, ValueError) as error:
        reraise_if_environment(error)
        result.reject(path, "unreadable_file", f"h5py cannot read {sorted(names.values())}: {error}")
        return
    _add_test_view(result, str(path), path.parent.name, fields, options)


def _read_test_npz(path: Path, options: MpiInf3dhpOptions, result: ReadResult) -> None:
    """Views of ``data_test_3dhp.npz``: ``data[TS] = {data_2d, data_3d, valid}`` (all frames, mm, pixels)."""
    try:
        data = load_object_npz(path, "data")
    except ValueError as error:
        result.reject(path, "unreadable_file", str(error))
        return
    for sequence in sorted(data):
        where = f"{path}::{sequence}"
        try:
            fields = {"poses": data[sequence]["data_3d"], "keypoints": data[sequence]["data_2d"]}
            fields["valid"] = np.asarray(data[sequence]["valid"]).reshape(-1)
        except (KeyError, TypeError, IndexError) as error:
            result.reject(where, "missing_key", f"expected data_2d, data_3d and valid: {error!r}")
            continue
        _add_test_view(result, where, sequence, fields, options)


def _read_train_npz(path: Path, source: Path, options: MpiInf3dhpOptions, result: ReadResult) -> None:
    """Views of ``data_train_3dhp.npz``: ``data["S1 Seq1"] = [{camera: {data_2d, data_3d}}, fps]``."""
    try:
        data = load_object_npz(path, "data")
    except ValueError as error:
        result.reject(path, "unreadable_file", str(error))
        return
    uncalibrated = []
    for key in sorted(data, key=lambda k: (len(k), k)):
        subject, _, sequence = str(key).partition(" ")
        where = f"{path}::{key}"
        if (subject, sequence) not in TRAIN_SEQUENCES:
            result.reject(where, "unknown_sequence", f"{key!r} is not an MPI-INF-3DHP training sequence")
            continue
        try:
            per_camera, fps = data[key]
            per_camera = {int(camera): value for camera, value in per_camera.items()}
        except (TypeError, ValueError, AttributeError) as error:
            result.reject(where, "missing_key", f"expected [{{camera: {{data_2d, data_3d}}}}, fps]: {error!r}")
            continue
        calibration_path = source / subject / sequence / CALIBRATION_FILE
        try:
            cameras = read_calibration(calibration_path) if calibration_path.is_file() else {}
        except ValueError as error:
            result.reject(calibration_path, "unreadable_file", str(error))
            continue
        for camera in options.cameras:
            if not isinstance(per_camera.get(camera), dict):
                result.reject(f"{where}/{camera}", "missing_camera", f"{key!r} has no camera {camera}")
                continue
            if camera not in cameras:
                uncalibrated.append(f"{key}/{camera}")
            _add_view(
                result, f"{where}/{camera}", subset="train", subject=subject, sequence=sequence, fps=float(fps),
                camera=cameras[camera] if camera in cameras else _uncalibrated_camera(camera),
                poses_mm=per_camera[camera].get("data_3d"), keypoints=per_camera[camera].get("data_2d"),
                source_skeleton=TEST_SKELETON,
            )  # fmt: skip
    if uncalibrated:
        result.notes.append(
            f"no {CALIBRATION_FILE} for {len(uncalibrated)} npz training views: their cameras have unknown "
            "intrinsics and identity extrinsics"
        )
