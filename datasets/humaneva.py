"""HumanEva-I reader: VideoPose3D npz files or the MATLAB export they are made from -> views.

One entry point, ``read_humaneva(source, detections={}, format=None, test_actions=TEST_ACTIONS)``, returns a
``ReadResult`` with one view per (chunk, camera): ``joints_3d`` the 15 HumanEva joints (``humaneva15``, the
joint set every HumanEva-I number is reported on) in the camera frame, metres; ``keypoints_2d`` the source's
ground-truth 2D (VideoPose3D publishes no HumanEva intrinsics, so we cannot project); other 2D files in
``extra_keypoints``. Sources (``docs/formats.md`` 3.3, 3.4)::

    videopose3d   data_3d_humaneva15.npz + data_2d_humaneva15_gt.npz (+ data_2d_humaneva15_<name>.npz ...)
    mat           [converted_15j/]{Train,Validate}/S<n>/<Action>_<Trial>.mat   (VideoPose3D's ConvertHumanEva.m)

Conventions:

- Subject keys are ``<part>/<subject>`` (``Train/S1``, ``Validate/S1``; VideoPose3D uses Validate as the test
  set): ``View.subset`` is the part, ``View.subject`` the subject.
- Sequences are cut into maximal runs of frames with finite mocap, named ``"<Action> <trial> chunk<i>"`` where i
  counts every run, finite or not, exactly as VideoPose3D's ``prepare_data_humaneva.py`` does, so both sources
  give the same chunk names. The MATLAB route converts millimetres the way that script does (float32, then
  / 1000), so both sources also give the same values.
- Split: Train -> ``train``; Validate -> ``test`` for Walking and Jog (the protocol the papers report, Walk
  and Jog of S1-S3; VideoPose3D's command lines also evaluate Box), ``validation`` for the other actions.
- 2D chunks prefixed ``Unlabeled/`` (detections on frames without mocap) are ignored with a note.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from datasets.benchmark_config import HumanEvaFormat, choices
from datasets.camera_rigs import humaneva_cameras
from datasets.cameras import Camera, world_to_camera
from datasets.errors import reraise_if_environment
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

DATASET = "humaneva"
FORMATS = choices(HumanEvaFormat)
SKELETON = "humaneva15"
JOINTS = 15
FPS = 60.0
"""HumanEva-I video rate (VideoPose3D ``fps=60``; docs/formats.md 3.1)."""
SUBJECTS = ("S1", "S2", "S3")
PARTS = ("Train", "Validate")
TEST_ACTIONS = ("Walking", "Jog")
"""Validate-part actions evaluated by the protocol (docs/references.md: "HumanEva-I: Walk and Jog of S1-S3")."""

# Frame count per (part/subject, sequence) of ConvertHumanEva.m's output: VideoPose3D prepare_data_humaneva.py
# `index` (end - start; docs/formats.md 3.5).
SEQUENCE_FRAMES: Mapping[tuple[str, str], int] = {
    (f"{part}/{subject}", f"{action} 1"): frames
    for part, subject, counts in (
        ("Train", "S1", (613, 373, 472, 406, 404)), ("Train", "S2", (438, 397, 578, 401, 352)),
        ("Train", "S3", (491, 441, 534, 569, 509)), ("Validate", "S1", (585, 362, 468, 390, 380)),
        ("Validate", "S2", (433, 393, 545, 495, 377)), ("Validate", "S3", (443, 396, 488, 528, 507)),
    )
    for action, frames in zip(("Walking", "Jog", "ThrowCatch", "Gestures", "Box"), counts, strict=True)
}  # fmt: skip

NPZ_3D_FILE, NPZ_GT_FILE = "data_3d_humaneva15.npz", "data_2d_humaneva15_gt.npz"
NPZ_2D_PATTERN = "data_2d_humaneva15_*.npz"
MAT_PATTERNS = tuple(f"{prefix}{part}/S*/*.mat" for prefix in ("", "*/") for part in PARTS)

Chunks = dict[tuple[str, str], tuple[np.ndarray, list[np.ndarray | None], str]]
"""(part/subject, chunk name) -> ((T, 15, 3) world metres, per-camera (T, 15, 2) pixels or None, where)."""


def split_of(part: str, action: str, test_actions: Sequence[str] = TEST_ACTIONS) -> str:
    """``"train"`` for Train, ``"test"`` for Validate's ``test_actions``, else ``"validation"``."""
    if part == "Train":
        return "train"
    return "test" if action in test_actions else "validation"


def detect_format(source: Path) -> str:
    """Which HumanEva-I source ``source`` holds: ``"videopose3d"`` or ``"mat"``.

    Raises:
        FileNotFoundError: Neither is there; the message names the files expected.
        ValueError: Both are there; pass ``format=`` to choose.
    """
    source = Path(source)
    present = {"videopose3d": (source / NPZ_3D_FILE).is_file(), "mat": bool(_mat_files(source))}
    expected = (
        f"{NPZ_3D_FILE} with {NPZ_GT_FILE} (VideoPose3D), or Train/S*/<Action>_<Trial>.mat and Validate/S*/... "
        "(ConvertHumanEva.m, possibly under converted_15j/)"
    )
    return detect_source_format(source, present, "HumanEva-I", expected)


def _mat_files(source: Path) -> list[Path]:
    return sorted({path for pattern in MAT_PATTERNS for path in source.glob(pattern)})


def read_humaneva(
    source: Path,
    detections: Mapping[str, Path] | None = None,
    format: str | None = None,
    test_actions: Sequence[str] = TEST_ACTIONS,
) -> ReadResult:
    """Read a HumanEva-I source folder into views of the 15 HumanEva joints.

    Args:
        source: Folder holding one of the ``FORMATS`` (see the module docstring).
        detections: Extra 2D files by name; they add to the ``data_2d_humaneva15_<name>.npz`` files in
            ``source`` (the ``gt`` file is the ground truth, not a detection).
        format: ``"videopose3d"`` or ``"mat"``; detected when None.
        test_actions: Validate actions whose views form the test split.

    Returns:
        Views ordered by part, subject, chunk and camera; rejections; notes.
    """
    source = Path(source)
    format = format or detect_format(source)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    result = ReadResult(skeleton=SKELETON)
    found = result.usable(sorted(p for p in source.glob(NPZ_2D_PATTERN) if p.name != NPZ_GT_FILE), source)
    files = {detection_name(path, "humaneva15"): path for path in found}
    files |= {name: Path(path) for name, path in (detections or {}).items()}
    extra = {}
    for name, path in sorted(files.items()):
        try:
            positions, metadata = load_positions_2d(path)
        except ValueError as error:
            result.reject(path, "unreadable_file", str(error))
            continue
        layout, joints = metadata.get("layout_name"), metadata.get("num_joints", JOINTS)
        if layout not in (None, SKELETON) or joints != JOINTS:
            result.reject(
                path, "unsupported_layout", f"layout {layout!r} with {joints} joints: only humaneva15 is read"
            )
            continue
        extra[name] = (path, positions)
    chunks = _read_npz(source, result) if format == "videopose3d" else _read_mat(source, result)
    pose_files = (NPZ_3D_FILE, NPZ_GT_FILE) if format == "videopose3d" else _mat_files(source)
    result.source_files = len(pose_files) + len(files)
    unlabelled = sorted({key for _, positions in extra.values() for key in positions if key.startswith("Unlabeled/")})
    if unlabelled:
        result.notes.append(f"ignored 2D of {', '.join(unlabelled)}: frames without mocap")
    cameras: dict[str, list[Camera] | None] = {}
    for key, name in sorted(chunks, key=_chunk_order):
        _add_chunk(key, name, chunks[(key, name)], extra, cameras, test_actions, result)
    return result


def _chunk_order(item: tuple[str, str]) -> tuple:
    """Order chunks by part, subject, sequence and chunk number (``chunk10`` after ``chunk9``)."""
    key, name = item
    sequence, _, chunk = name.rpartition(" chunk")
    return (key, sequence, int(chunk) if chunk.isdigit() else -1, name)


def _read_npz(source: Path, result: ReadResult) -> Chunks:
    """Chunks of ``data_3d_humaneva15.npz`` with their ground-truth 2D from ``data_2d_humaneva15_gt.npz``."""
    if not result.usable([source / NPZ_3D_FILE], source):
        return {}
    try:
        positions_3d = load_object_npz(source / NPZ_3D_FILE, POSITIONS_3D_KEY)
    except ValueError as error:
        result.reject(source / NPZ_3D_FILE, "unreadable_file", str(error))
        return {}
    try:
        if not result.usable([source / NPZ_GT_FILE], source):
            raise ValueError(f"{source / NPZ_GT_FILE} is not read")
        positions_2d = load_positions_2d(source / NPZ_GT_FILE)[0]
    except ValueError as error:
        result.reject(source / NPZ_GT_FILE, "unreadable_file", f"{error}; every view needs its ground-truth 2D")
        positions_2d = {}
    chunks: Chunks = {}
    for key, sequences in positions_3d.items():
        for name, poses in sequences.items() if isinstance(sequences, dict) else ():
            ground_truth = positions_2d.get(key, {}).get(name) if isinstance(positions_2d.get(key), dict) else None
            chunks[(key, name)] = (poses, ground_truth, f"{source / NPZ_3D_FILE}::{key}/{name}")
    return chunks


def _read_mat(source: Path, result: ReadResult) -> Chunks:
    """Chunks of every ``<part>/<subject>/<Action>_<Trial>.mat`` (poses_3d (N, 15, 3) mm, poses_2d (3, N, 15, 2))."""
    from scipy.io import loadmat

    chunks: Chunks = {}
    for path in result.usable(_mat_files(source), source):
        key, sequence = f"{path.parent.parent.name}/{path.parent.name}", path.stem.replace("_", " ")
        try:
            content = loadmat(path)
            poses, keypoints = np.asarray(content["poses_3d"]), np.asarray(content["poses_2d"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            reraise_if_environment(error)
            result.reject(path, "unreadable_file", f"scipy.io.loadmat cannot read poses_3d/poses_2d: {error}")
            continue
        problem = pose_array_problem(poses, (JOINTS,), (3,), allow_nan=True)
        if problem is None and (keypoints.ndim != 4 or keypoints.shape[1:] != (len(poses), JOINTS, 2)):
            problem = ("length_mismatch", f"poses_2d must be (3, {len(poses)}, {JOINTS}, 2), got {keypoints.shape}")
        expected = SEQUENCE_FRAMES.get((key, sequence))
        if problem is None and expected is not None and len(poses) != expected:
            problem = (
                "wrong_length",
                f"{len(poses)} frames, but {key}/{sequence} spans {expected} (docs/formats.md 3.5)",
            )
        if problem is not None:
            result.reject(path, *problem)
            continue
        finite = np.isfinite(poses).all(axis=(1, 2))
        if not finite.all():
            result.notes.append(f"{key}/{sequence}: skipped {int((~finite).sum())} frames without valid mocap")
        start = 0
        for number, (is_finite, run) in enumerate(itertools.groupby(finite)):
            stop = start + len(list(run))
            if is_finite:  # float32 mm / 1000 in float32, exactly as prepare_data_humaneva.py writes the npz
                world = poses[start:stop].astype(np.float32) / np.float32(MILLIMETRES_PER_METRE)
                per_camera = [camera[start:stop].astype(np.float32) for camera in keypoints]
                chunks[(key, f"{sequence} chunk{number}")] = (world, per_camera, f"{path}::chunk{number}")
            start = stop
    return chunks


def _add_chunk(
    key: str,
    name: str,
    chunk: tuple[np.ndarray, list[np.ndarray | None] | None, str],
    extra: Mapping[str, tuple[Path, dict]],
    cameras: dict[str, list[Camera] | None],
    test_actions: Sequence[str],
    result: ReadResult,
) -> None:
    """Turn one chunk into one view per camera, or rejections saying why not."""
    poses, ground_truth, where = chunk
    part, _, subject = key.partition("/")
    if part not in PARTS or subject not in SUBJECTS:
        result.reject(where, "unknown_subject", f"{key!r} is not Train/ or Validate/ with S1, S2 or S3")
        return
    problem = pose_array_problem(poses, (JOINTS,), (3,))
    if problem is not None:
        result.reject(where, *problem)
        return
    if subject_cameras(subject, cameras, humaneva_cameras, result) is None:
        result.reject(where, "missing_camera", f"no camera parameters for {subject}")
        return
    world = np.asarray(poses, dtype=np.float64)
    action = name.split(" ")[0]
    for index, camera in enumerate(cameras[subject]):
        keypoints = _keypoints(ground_truth, index, len(world), "gt", f"{where}/{camera.name}", result)
        if keypoints is None:
            continue
        others = {}
        for detection, (path, positions) in extra.items():
            others[detection] = _keypoints(
                _entry(positions, key, name),
                index,
                len(world),
                detection,
                f"{path}::{key}/{name}/{camera.name}",
                result,
            )
        if any(value is None for value in others.values()):
            continue
        view = View(
            DATASET, part, subject, action, name, split_of(part, action, test_actions), FPS, camera,
            np.asarray(world_to_camera(world, camera), dtype=np.float32), keypoints, extra_keypoints=others,
        )  # fmt: skip
        result.add_view(view)


def _entry(positions: Mapping, key: str, name: str) -> list | None:
    """``positions[key][name]`` of a 2D file, or None."""
    per_key = positions.get(key)
    return per_key.get(name) if isinstance(per_key, dict) else None


def _keypoints(
    per_camera: Sequence | None, camera: int, frames: int, name: str, where: str, result: ReadResult
) -> np.ndarray | None:
    """One camera's (frames, 15, C) float32 2D of a chunk, trimmed to the mocap; None (rejected) if unusable."""
    keypoints = per_camera[camera] if per_camera is not None and camera < len(per_camera) else None
    if keypoints is None:
        result.reject(where, "missing_camera" if per_camera is not None else "missing_2d", f"no {name} 2D for it")
        return None
    problem = pose_array_problem(keypoints, (JOINTS,), (2, 3) if name != "gt" else (2,))
    if problem is None and len(keypoints) < frames:
        problem = ("length_mismatch", f"{len(keypoints)} {name} 2D frames for {frames} mocap frames")
    if problem is not None:
        result.reject(where, *problem)
        return None
    if len(keypoints) > frames:
        result.notes.append(f"trimmed {len(keypoints) - frames} {name} frames from {where}")
    return np.asarray(keypoints[:frames], dtype=np.float32)
