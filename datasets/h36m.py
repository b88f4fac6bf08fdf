"""Human3.6M reader: VideoPose3D npz files or the original ``D3_Positions`` CDF files -> views.

One entry point, ``read_h36m(source, detections={}, format=None)``, returns a ``ReadResult`` with one view per
(sequence, camera): ``joints_3d`` the 17 standard joints (``h36m17``) in the camera frame, metres;
``keypoints_2d`` their projection with the camera's distortion (the ground truth VideoPose3D also uses);
every 2D file found in the folder or given as ``NAME=FILE`` in ``extra_keypoints[NAME]``. Which source a
folder holds is found by ``detect_format``. Sources (``docs/formats.md`` 1.1, 1.4)::

    videopose3d   data_3d_h36m.npz (+ data_2d_h36m_<name>.npz ...)   world frame, metres, 32 (or 17) joints
    cdf           S<n>/MyPoseFeatures/D3_Positions/<Action>.cdf       world frame, millimetres, 32 joints

Conventions and quirks (docs/formats.md 1.1-1.6):

- Sequence names are the source's file stems with ``TakingPhoto`` -> ``Photo`` and ``WalkingDog`` ->
  ``WalkDog`` (only S1's original files use the long names); numbered repeats (``"Walking 1"``) stay separate
  sequences; the base action is ``name.split(" ")[0]``. ``_ALL`` sequences are skipped with a note.
- Split: S1 S5 S6 S7 S8 train, S9 S11 test. S2 S3 S4 have no 3D ground truth or cameras: ignored with a note
  wherever they appear (detection files may list them).
- ``S11/Directions``: camera 54138969's video is corrupted, so detections for it do not exist and VideoPose3D
  drops the whole sequence from every file. We drop it too (one rejection per camera, reason ``known_quirk``)
  so that test sets match published protocols, also when reading the CDF files, which do hold it.
- Detection sequences longer than the mocap are trimmed at the end, as VideoPose3D does (a note says by how
  much); shorter ones, missing ones, missing cameras or a wrong joint count reject that view. A view is
  refused as a whole because every view of a store carries the same arrays.
- CDF element type is not documented: values are cast to float64, divided by 1000, and stored as float32.

Example::

    result = read_h36m(Path("h36m"), detections={"cpn": Path("data_2d_h36m_cpn_ft_h36m_dbb.npz")})
    [view.describe() for view in result.views][:1]   # ['h36m/train/S1/Directions/54138969']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from datasets.benchmark_config import H36mFormat, choices
from datasets.camera_rigs import h36m_cameras
from datasets.cameras import Camera, project, world_to_camera
from datasets.errors import reraise_if_environment
from datasets.skeletons import convert_joints
from datasets.units import MILLIMETRES_PER_METRE
from datasets.videopose3d import (
    POSITIONS_3D_KEY,
    ReadResult,
    detect_source_format,
    detection_name,
    load_object_npz,
    load_positions_2d,
    pose_array_problem,
    subject_cameras,
)
from datasets.views import View

DATASET = "h36m"
FORMATS = choices(H36mFormat)
FPS = 50.0
"""Frame rate of Human3.6M poses and videos as every toolkit uses it (docs/formats.md 1.1)."""

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
"""Standard protocol split (VideoPose3D ``-str S1,S5,S6,S7,S8 -ste S9,S11``; docs/formats.md 1.6)."""
UNLABELLED_SUBJECTS = ("S2", "S3", "S4")
"""Subjects in the metadata without public 3D ground truth or extrinsics (docs/formats.md 1.1)."""

ACTION_RENAMES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}
"""S1's original file names -> the names of every other subject and of VideoPose3D's files (docs/formats.md 1.1)."""
KNOWN_QUIRKS = {("S11", "Directions"): "camera 54138969's video is corrupted; VideoPose3D drops the sequence"}
"""(subject, sequence) dropped on purpose, with the reason (docs/formats.md 1.1, "Known corruption")."""

NPZ_3D_FILE = "data_3d_h36m.npz"
NPZ_2D_PATTERN = "data_2d_h36m_*.npz"
CDF_PATTERN = "S*/MyPoseFeatures/D3_Positions/*.cdf"
CDF_VARIABLE = "Pose"
SOURCE_JOINTS = 32
STANDARD_JOINTS = 17
SKELETON = "h36m17"

WorldSequences = dict[tuple[str, str], tuple[np.ndarray, str]]
"""(subject, raw sequence name) -> ((T, J, 3) world metres, where it came from)."""
Detections = dict[str, tuple[Path, dict]]
"""Detection name -> (file, ``positions_2d``: {subject: {sequence: [per-camera (T, 17, 2|3) pixels]}})."""


def normalise_sequence(name: str) -> tuple[str, str]:
    """Return ``(sequence, base action)`` for a source name: ``"TakingPhoto 1"`` -> ``("Photo 1", "Photo")``."""
    base, _, repeat = name.partition(" ")
    base = ACTION_RENAMES.get(base, base)
    return (f"{base} {repeat}" if repeat else base), base


def split_of(subject: str) -> str | None:
    """``"train"``, ``"test"``, or None for a subject outside the protocol."""
    if subject in TRAIN_SUBJECTS:
        return "train"
    if subject in TEST_SUBJECTS:
        return "test"
    return None


def detect_format(source: Path) -> str:
    """Which Human3.6M source ``source`` holds: ``"videopose3d"`` or ``"cdf"``.

    Raises:
        FileNotFoundError: Neither is there; the message names the files expected.
        ValueError: Both are there; pass ``format=`` to choose.
    """
    source = Path(source)
    present = {"videopose3d": (source / NPZ_3D_FILE).is_file(), "cdf": next(source.glob(CDF_PATTERN), None) is not None}
    expected = (
        f"{NPZ_3D_FILE} (VideoPose3D, with optional {NPZ_2D_PATTERN}) or {CDF_PATTERN} "
        "(original release, Poses_D3_Positions_S*.tgz extracted)"
    )
    return detect_source_format(source, present, "Human3.6M", expected)


def read_h36m(source: Path, detections: Mapping[str, Path] | None = None, format: str | None = None) -> ReadResult:
    """Read a Human3.6M source folder into views of the 17 standard joints.

    Args:
        source: Folder holding one of the ``FORMATS`` (see the module docstring).
        detections: Extra 2D files by name (``NAME=FILE``); they add to (and override, with a note) the
            ``data_2d_h36m_<name>.npz`` files found in ``source``.
        format: ``"videopose3d"`` or ``"cdf"``; detected when None.

    Returns:
        Views ordered by subject (protocol order), sequence and camera; rejections; notes.
    """
    source = Path(source)
    format = format or detect_format(source)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    result = ReadResult(skeleton=SKELETON)
    files = {detection_name(path, "h36m"): path for path in result.usable(sorted(source.glob(NPZ_2D_PATTERN)), source)}
    for name, path in (detections or {}).items():
        if name in files and Path(path).resolve() != files[name].resolve():
            result.notes.append(f"detections {name!r}: using {path} instead of {files[name]} found in {source}")
        files[name] = Path(path)
    loaded_detections = _load_detections(files, result)
    world = _read_npz(source / NPZ_3D_FILE, result) if format == "videopose3d" else _read_cdf(source, result)
    _report_subjects(world, result)
    cameras: dict[str, list[Camera] | None] = {}
    for subject in TRAIN_SUBJECTS + TEST_SUBJECTS:
        names = sorted((name for s, name in world if s == subject), key=lambda name: normalise_sequence(name)[0])
        for raw_name in names:
            poses, where = world[(subject, raw_name)]
            _add_sequence(subject, raw_name, poses, where, loaded_detections, cameras, result)
    _report_unused_detections(loaded_detections, world, result)
    return result


def _report_unused_detections(detections: Detections, world: WorldSequences, result: ReadResult) -> None:
    """A note per detection file listing its labelled sequences that have no mocap (so nothing goes unsaid)."""
    mocap = {(subject, normalise_sequence(name)[0]) for subject, name in world}
    for name, (_, positions) in detections.items():
        unused = sorted(
            f"{subject}/{sequence}"
            for subject, sequences in positions.items()
            if subject not in UNLABELLED_SUBJECTS and isinstance(sequences, dict)
            for sequence in sequences
            if (subject, sequence) not in mocap
        )
        if unused:
            result.notes.append(
                f"detections {name!r}: ignored sequences without mocap ({len(unused)}): {', '.join(unused)}"
            )


def _read_npz(path: Path, result: ReadResult) -> WorldSequences:
    """World sequences of ``data_3d_h36m.npz`` (metres); unreadable files and items are rejected."""
    if not result.usable([path], path.parent):
        return {}
    try:
        positions = load_object_npz(path, POSITIONS_3D_KEY)
    except ValueError as error:
        reraise_if_environment(error)
        result.reject(path, "unreadable_file", str(error))
        return {}
    world: WorldSequences = {}
    for subject, sequences in positions.items():
        if not isinstance(sequences, dict):
            result.reject(f"{path}::{subject}", "not_a_dict", f"expected {{sequence: array}}, got {type(sequences)}")
            continue
        for name, poses in sequences.items():
            world[(str(subject), str(name))] = (poses, f"{path}::{subject}/{name}")
    return world


def _read_cdf(source: Path, result: ReadResult) -> WorldSequences:
    """World sequences of ``S*/MyPoseFeatures/D3_Positions/*.cdf`` (millimetres -> metres)."""
    import cdflib

    world: WorldSequences = {}
    for path in result.usable(sorted(source.glob(CDF_PATTERN)), source):
        subject = path.parents[2].name
        try:
            values = np.asarray(cdflib.CDF(str(path)).varget(CDF_VARIABLE), dtype=np.float64)
        except Exception as error:  # cdflib raises many types (OSError, ValueError, KeyError, struct.error)
            reraise_if_environment(error)
            result.reject(path, "unreadable_file", f"cdflib cannot read {CDF_VARIABLE!r}: {error}")
            continue
        if values.size % (SOURCE_JOINTS * 3) != 0 or values.shape[-1] != SOURCE_JOINTS * 3:
            result.reject(path, "wrong_joint_count", f"{CDF_VARIABLE} must be (1, N, 96), got {values.shape}")
            continue
        poses = values.reshape(-1, SOURCE_JOINTS, 3) / MILLIMETRES_PER_METRE
        world[(subject, path.stem)] = (poses, str(path))
    return world


def _load_detections(files: Mapping[str, Path], result: ReadResult) -> Detections:
    """``(path, positions_2d)`` of each detection file by name; unreadable files and other layouts are rejected."""
    loaded = {}
    for name, path in sorted(files.items()):
        try:
            positions, metadata = load_positions_2d(path)
        except ValueError as error:
            reraise_if_environment(error)
            result.reject(path, "unreadable_file", str(error))
            continue
        layout, joints = metadata.get("layout_name"), metadata.get("num_joints", STANDARD_JOINTS)
        if layout not in (None, "h36m") or joints != STANDARD_JOINTS:
            detail = f"layout {layout!r} with {joints} joints: only the 17-joint h36m order is read"
            result.reject(path, "unsupported_layout", detail)
            continue
        ignored = sorted(set(map(str, positions)) & set(UNLABELLED_SUBJECTS))
        if ignored:
            result.notes.append(f"detections {name!r}: ignored unlabelled subjects {', '.join(ignored)}")
        loaded[name] = (path, positions)
    return loaded


def _report_subjects(world: WorldSequences, result: ReadResult) -> None:
    """Notes for unlabelled and absent protocol subjects; rejections for unknown subjects."""
    subjects = {subject for subject, _ in world}
    for subject in sorted(subjects - set(TRAIN_SUBJECTS + TEST_SUBJECTS)):
        if subject in UNLABELLED_SUBJECTS:
            result.notes.append(f"ignored {subject}: Human3.6M has no public 3D ground truth or cameras for it")
        else:
            for (world_subject, _), (_, where) in sorted(world.items()):
                if world_subject == subject:
                    result.reject(where, "unknown_subject", f"{subject} is not a Human3.6M subject")
    absent = [s for s in TRAIN_SUBJECTS + TEST_SUBJECTS if s not in subjects]
    if absent:
        result.notes.append(f"subjects absent from the source: {', '.join(absent)}")


def _add_sequence(
    subject: str,
    raw_name: str,
    poses: object,
    where: str,
    detections: Detections,
    cameras: dict[str, list[Camera] | None],
    result: ReadResult,
) -> None:
    """Turn one world sequence into one view per camera, or rejections saying why not."""
    if "_ALL" in raw_name:
        result.notes.append(f"skipped {subject}/{raw_name}: _ALL sequences are not single actions")
        return
    sequence, action = normalise_sequence(raw_name)
    if any(v.subject == subject and v.sequence == sequence for v in result.views):
        result.reject(where, "duplicate_sequence", f"{subject}/{sequence} was already read from another name")
        return
    problem = pose_array_problem(poses, (SOURCE_JOINTS, STANDARD_JOINTS), (3,))
    if problem is not None:
        result.reject(where, *problem)
        return
    poses = np.asarray(poses, dtype=np.float64)
    world = convert_joints(poses, "h36m32", SKELETON) if poses.shape[1] == SOURCE_JOINTS else poses
    if subject_cameras(subject, cameras, h36m_cameras, result) is None:
        result.reject(where, "missing_camera", f"no camera parameters for {subject}")
        return
    for camera in cameras[subject]:
        view_where = f"{where}/{camera.name}"
        if (subject, sequence) in KNOWN_QUIRKS:
            result.reject(view_where, "known_quirk", KNOWN_QUIRKS[(subject, sequence)])
            continue
        frames = len(world)
        extra = _view_detections(subject, sequence, camera, cameras[subject].index(camera), frames, detections, result)
        if extra is None:
            continue
        joints_camera = np.asarray(world_to_camera(world, camera), dtype=np.float64)
        result.add_view(
            View(
                dataset=DATASET,
                subset=split_of(subject),
                subject=subject,
                action=action,
                sequence=sequence,
                split=split_of(subject),
                fps=FPS,
                camera=camera,
                joints_3d=joints_camera.astype(np.float32),
                keypoints_2d=np.asarray(project(joints_camera, camera, distort=True), dtype=np.float32),
                extra_keypoints=extra,
            )
        )


def _view_detections(
    subject: str,
    sequence: str,
    camera: Camera,
    camera_index: int,
    frames: int,
    detections: Detections,
    result: ReadResult,
) -> dict[str, np.ndarray] | None:
    """Each detection's (frames, 17, C) array for one view, trimmed to the mocap; None rejects the view."""
    extra = {}
    for name, (path, positions) in detections.items():
        where = f"{path}::{subject}/{sequence}/{camera.name}"
        per_subject = positions.get(subject)
        per_camera = per_subject.get(sequence) if isinstance(per_subject, dict) else None
        if per_camera is None:
            result.reject(where, "missing_detections", f"detections {name!r} have no {subject}/{sequence}")
            return None
        keypoints = per_camera[camera_index] if camera_index < len(per_camera) else None
        if keypoints is None:
            result.reject(where, "missing_camera", f"detections {name!r} have no camera {camera.name}")
            return None
        problem = pose_array_problem(keypoints, (STANDARD_JOINTS,), (2, 3))
        if problem is not None:
            result.reject(where, *problem)
            return None
        if len(keypoints) < frames:
            result.reject(where, "detections_too_short", f"{len(keypoints)} detection frames for {frames} mocap frames")
            return None
        if len(keypoints) > frames:
            result.notes.append(
                f"trimmed {len(keypoints) - frames} {name} frames from {subject}/{sequence}/{camera.name}"
            )
        extra[name] = np.asarray(keypoints[:frames], dtype=np.float32)
    return extra
