"""VideoPose3D-style npz files: what every source reader returns, shared npz helpers, and the export writer.

VideoPose3D (Pavllo et al., CVPR 2019) made a handful of npz files the de-facto exchange format for 2D->3D
lifting (``docs/formats.md`` 1.4 and 3.4)::

    data_3d_<layout>.npz     positions_3d: {subject: {sequence: (T, J, 3) float32 metres, world frame}}
    data_2d_<layout>_<name>.npz
                             positions_2d: {subject: {sequence: [one (T, J, 2) float32 pixel array per camera]}}
                             metadata: {"layout_name", "num_joints", "keypoints_symmetry": [left, right]}

Both keys hold a pickled Python dict in a 0-d object array; these third-party files are read with the
restricted unpickler of ``datasets.safe_npz`` (a file asking for anything but containers, numbers and arrays
is refused, naming it); our own store never uses pickles. ``export_videopose3d`` writes views (or a pose store)
back in this format, so users can hand our data to existing code bases::

    from datasets.h36m import read_h36m
    from datasets.videopose3d import export_videopose3d
    result = read_h36m(Path("h36m_source"))
    export_videopose3d(result.views, Path("exported"))   # data_3d_h36m.npz, data_2d_h36m_gt.npz, ...

The export is what VideoPose3D's own loaders (and the MixSTE, PoseFormer, P-STMO and Strided Transformer code
bases that copy them) accept unchanged: every array float32 (their cameras are float32, and mixing dtypes in
their ``world_to_camera`` fails), and Human3.6M 3D positions in the 32-joint source layout their
``Human36mDataset`` cuts down to 17 on load (``EXPORT_3D_SKELETON``). Reading the export back gives the same
values: the 2D arrays bit for bit, the 3D camera-frame joints to float32 rounding of world coordinates
(about 1e-6 m).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datasets.camera_rigs import H36M_CAMERA_IDS, HUMANEVA_CAMERA_IDS
from datasets.cameras import Camera, camera_to_world
from datasets.errors import reraise_if_environment
from datasets.safe_npz import UnsafePickleError, npz_member_names, read_npz_member
from datasets.skeletons import convert_joints, get_skeleton
from datasets.source_entries import entry_problem, open_regular
from datasets.views import Rejection, View

POSITIONS_3D_KEY = "positions_3d"
POSITIONS_2D_KEY = "positions_2d"
METADATA_KEY = "metadata"
GROUND_TRUTH_2D_NAME = "gt"
"""Name part of the ground-truth 2D file, ``data_2d_<layout>_gt.npz``."""

LAYOUT_OF_SKELETON: Mapping[str, str] = {"h36m17": "h36m", "h36m32": "h36m", "humaneva15": "humaneva15"}
"""VideoPose3D layout name (the ``<layout>`` in file names) of our skeletons that VideoPose3D knows."""
SKELETON_OF_JOINT_COUNT: Mapping[int, str] = {17: "h36m17", 15: "humaneva15", 32: "h36m32"}
"""Skeleton assumed for views given without one: every mocaplift reader emits one of these."""
EXPORT_3D_SKELETON: Mapping[str, str] = {"h36m17": "h36m32"}
"""Skeleton the 3D file is written in, where it differs from the views': VideoPose3D's ``Human36mDataset`` always
removes 15 joints from a 32-joint layout, so 17-joint Human3.6M positions go out in the source layout, the missing
joints filled as ``datasets.skeletons.JOINT_CORRESPONDENCES[("h36m17", "h36m32")]`` documents."""
EXPORT_DTYPE = np.float32
"""dtype of every exported array: VideoPose3D's files and cameras are float32."""
CAMERA_ORDER: Mapping[str, tuple[str, ...]] = {"h36m": H36M_CAMERA_IDS, "humaneva": HUMANEVA_CAMERA_IDS}
"""Datasets whose VideoPose3D camera lists have a fixed order (list index = camera); others sort by name."""


@dataclass
class ReadResult:
    """Everything a source reader produced: the views, what it refused, and what it changed on the way.

    Attributes:
        skeleton: Joint order of every view's joints (``datasets.skeletons`` name), e.g. ``"h36m17"``.
        views: One view per (sequence, camera).
        rejected: Items refused, each with its reason; nothing is dropped without a record here.
        notes: One sentence per change a person should know about, e.g.
            ``"trimmed 5 cpn_ft_h36m_dbb frames from S9/Walking/54138969"``.
        per_frame: Per-frame arrays the ``View`` schema has no slot for, by position in ``views``, then by
            name, each ``(T,)``: e.g. MPI-INF-3DHP's ``activity`` (int16 codes 1..7).
        source_files: Source files the reader found (read or refused), for the conversion summary; 0 where a
            reader does not count them.
    """

    skeleton: str
    views: list[View] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    per_frame: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    source_files: int = 0

    def reject(self, path: str | Path, reason: str, detail: str) -> None:
        """Record a refused item (``path`` may be ``file::key`` for an item inside a file)."""
        self.rejected.append(Rejection(path=str(path), reason=reason, detail=detail))

    def usable(self, paths: Iterable[Path], root: Path) -> list[Path]:
        """The entries of ``paths`` that are read, in order; each other one is rejected with its reason.

        An entry is read when it is a regular file or a link to one inside ``root``
        (``datasets.source_entries``); pipes, devices, directories, dangling or looping links and links
        leaving ``root`` are rejected as ``unreadable_file`` and never opened.
        """
        usable = []
        for path in paths:
            problem = entry_problem(path, root)
            if problem:
                self.reject(path, "unreadable_file", problem)
            else:
                usable.append(path)
        return usable

    def add_view(self, view: View, per_frame: Mapping[str, np.ndarray] | None = None) -> None:
        """Append a view, with its per-frame extras (each ``(view.frames,)``) if any."""
        if per_frame:
            for name, values in per_frame.items():
                if values.shape != (view.frames,):
                    raise ValueError(f"per-frame {name!r} must be ({view.frames},), got {values.shape}")
            self.per_frame[len(self.views)] = dict(per_frame)
        self.views.append(view)


def detect_source_format(source: Path, present: Mapping[str, bool], dataset: str, expected: str) -> str:
    """The one format whose files ``source`` holds, among ``present`` (format -> are its files there?).

    Args:
        source: The source folder (for messages).
        present: Each candidate format and whether its files were found.
        dataset: Dataset name, for messages.
        expected: What the folder should hold, for the message when nothing matches.

    Raises:
        FileNotFoundError: No format's files are there; the message names the files expected.
        ValueError: Several are there; the message says to pass ``format=``.
    """
    found = [name for name, is_present in present.items() if is_present]
    if not found:
        raise FileNotFoundError(f"{source} holds no {dataset} source: expected {expected}")
    if len(found) > 1:
        choices = " or ".join(repr(name) for name in found)
        raise ValueError(f"{source} holds several {dataset} sources ({', '.join(found)}): pass format={choices}")
    return found[0]


def subject_cameras(
    subject: str, cache: dict[str, Any], lookup: Callable[[str], Any], result: ReadResult
) -> Any | None:
    """A subject's cameras, looked up once per subject; a subject without a rig is noted once and gives None.

    Args:
        subject: Subject id.
        cache: subject -> cameras (or None), shared across one reader call.
        lookup: ``datasets.camera_rigs.h36m_cameras`` or ``humaneva_cameras``.
        result: Where the note goes.
    """
    if subject not in cache:
        try:
            cache[subject] = lookup(subject)
        except (KeyError, ValueError) as error:
            cache[subject] = None
            result.notes.append(f"no cameras for {subject}: {error}")
    return cache[subject]


def load_object_npz(path: Path, key: str) -> dict[str, Any]:
    """Load the pickled dict stored under ``key`` of a third-party VideoPose3D-style npz file.

    Args:
        path: The ``.npz`` file.
        key: ``"positions_3d"``, ``"positions_2d"``, ``"metadata"`` or ``"data"`` (MPI-INF-3DHP npz files).

    Returns:
        The dict.

    Raises:
        ValueError: The file cannot be read, lacks ``key``, or ``key`` is not a dict; the message names both.
        UnsafePickleError: (a ``ValueError``) The pickle asks for anything but containers, numbers and arrays.
    """
    try:
        with open_regular(path) as handle:  # a pipe or device is refused here, never waited on or read
            is_zip = zipfile.is_zipfile(handle)
    except OSError as error:
        reraise_if_environment(error)
        is_zip = False
    if not is_zip:
        raise ValueError(f"{path} is not a readable npz file (missing, or not a zip archive)")
    try:
        value = read_npz_member(path, key)  # pickled dicts by design: restricted unpickler, never np.load's
    except KeyError:
        raise ValueError(f"{path} has no key {key!r}; it holds {npz_member_names(path)}") from None
    content = value.item() if value.dtype == object and value.shape == () else None
    if not isinstance(content, dict):
        raise ValueError(f"{path}::{key} must be a pickled dict (0-d object array), got {value.dtype} {value.shape}")
    return content


def load_positions_2d(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load a VideoPose3D 2D file: ``positions_2d`` and its ``metadata`` (empty when the file has none).

    Raises:
        ValueError: As ``load_object_npz``, for ``positions_2d``.
    """
    positions = load_object_npz(path, POSITIONS_2D_KEY)
    try:
        metadata = load_object_npz(path, METADATA_KEY)
    except UnsafePickleError:
        raise
    except ValueError:
        metadata = {}
    return positions, metadata


def pose_array_problem(
    array: Any, joint_counts: Iterable[int], channels: Iterable[int], allow_nan: bool = False
) -> tuple[str, str] | None:
    """Why a source pose array cannot be used, or None when it can.

    Args:
        array: What the source holds, expected ``(T, J, C)`` with ``T > 0``.
        joint_counts: Accepted J.
        channels: Accepted C (3 for 3D, 2 or 3 for 2D with confidence).
        allow_nan: Accept NaN (sources that mark invalid frames with NaN, cut out later).

    Returns:
        ``(reason, detail)`` with reason one of ``not_an_array``, ``truncated_array``, ``wrong_joint_count``,
        ``wrong_channels``, ``nan_values``; None when the array is usable.
    """
    joint_counts, channels = tuple(joint_counts), tuple(channels)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        return "not_an_array", f"expected a numeric (T, J, C) array, got {type(array).__name__}"
    if array.ndim != 3 or array.shape[0] == 0:
        return "truncated_array", f"expected a non-empty (T, J, C) array, got shape {array.shape}"
    if array.shape[1] not in joint_counts:
        return "wrong_joint_count", f"expected {' or '.join(map(str, joint_counts))} joints, got {array.shape[1]}"
    if array.shape[2] not in channels:
        return "wrong_channels", f"expected {' or '.join(map(str, channels))} values per joint, got {array.shape[2]}"
    if not allow_nan and not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).any(axis=(1, 2)).sum())
        return "nan_values", f"{bad} of {array.shape[0]} frames hold NaN or infinite values"
    return None


def detection_name(path: Path, layout: str) -> str:
    """The detection name a 2D file's name carries: ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` -> ``cpn_ft_h36m_dbb``.

    Args:
        path: The file.
        layout: VideoPose3D layout name, e.g. ``"h36m"`` or ``"humaneva15"``.

    Raises:
        ValueError: The name does not follow ``data_2d_<layout>_<name>.npz``.
    """
    match = re.fullmatch(rf"data_2d_{re.escape(layout)}_(.+)\.npz", path.name)
    if match is None:
        raise ValueError(f"{path.name} is not named data_2d_{layout}_<name>.npz; pass it as NAME=FILE instead")
    return match.group(1)


def _natural_key(name: str) -> tuple[int, int | str]:
    """Sort camera names numerically when they are numbers (``"2" < "10"``), else alphabetically."""
    return (0, int(name)) if name.isdigit() else (1, name)


def _views_from_store(store: Any) -> tuple[list[View], str]:
    """Rebuild the views of a ``datasets.store.PoseStore`` (one per index row) and its skeleton name."""
    detections = [name for name in store.arrays if name.startswith("keypoints_2d_")]
    views = []
    for row in store.index.to_pylist():
        view_id = row["view_id"]
        views.append(
            View(
                dataset=row["dataset"],
                subset=row["subset"],
                subject=row["subject"],
                action=row["action"],
                sequence=row["sequence"],
                split=row["split"],
                fps=row["fps"],
                camera=Camera.from_index_row(row, name=row["camera"]),
                joints_3d=np.asarray(store.read("joints_3d", view_id)),
                keypoints_2d=np.asarray(store.read("keypoints_2d", view_id)),
                extra_keypoints={
                    name.removeprefix("keypoints_2d_"): np.asarray(store.read(name, view_id)) for name in detections
                },
            )
        )
    return views, store.skeleton


def _subject_key(view: View) -> str:
    """VideoPose3D's subject key: HumanEva prefixes the part (``Train/S1``), the others use the subject."""
    return f"{view.subset}/{view.subject}" if view.dataset == "humaneva" else view.subject


def export_videopose3d(views_or_store: Iterable[View] | Any, out_dir: Path, skeleton: str | None = None) -> list[Path]:
    """Write views (or a whole pose store) as VideoPose3D npz files.

    Per dataset, writes ``data_3d_<layout>.npz`` (world positions: each sequence's camera-frame joints
    mapped back with the inverse transform of its first camera, in camera-name order, in the skeleton
    ``EXPORT_3D_SKELETON`` names, 32 joints for Human3.6M), ``data_2d_<layout>_gt.npz`` (the
    views' ``keypoints_2d``, or the detection named ``"gt"`` when the views carry one, i.e. when they were
    read from such a file) and one ``data_2d_<layout>_<name>.npz`` per other detection; all float32
    (``EXPORT_DTYPE``). Camera lists follow
    ``CAMERA_ORDER`` (Human3.6M, HumanEva-I) or the camera names' order, with None where a sequence lacks a
    camera.

    Args:
        views_or_store: Views, or a ``datasets.store.PoseStore``.
        out_dir: Output folder (created).
        skeleton: Joint order of the views (``datasets.skeletons`` name); read from the store when a store is
            given, else told by the joint count (``SKELETON_OF_JOINT_COUNT``) when None.

    Returns:
        The files written.

    Raises:
        ValueError: No views, an unknown skeleton, two views of one (sequence, camera), or views of one
            sequence disagreeing in length.
    """
    if hasattr(views_or_store, "index") and hasattr(views_or_store, "read"):
        views, skeleton = _views_from_store(views_or_store)
    else:
        views = list(views_or_store)
    if not views:
        raise ValueError("export_videopose3d needs at least one view")
    if skeleton is None:
        joints = {view.joints_3d.shape[1] for view in views}
        if len(joints) != 1 or next(iter(joints)) not in SKELETON_OF_JOINT_COUNT:
            raise ValueError(f"cannot tell the skeleton of views with {sorted(joints)} joints: pass skeleton=")
        skeleton = SKELETON_OF_JOINT_COUNT[joints.pop()]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in sorted({view.dataset for view in views}):
        dataset_views = [view for view in views if view.dataset == dataset]
        layout = LAYOUT_OF_SKELETON.get(skeleton, f"{dataset}_{skeleton}")
        written.extend(_export_dataset(dataset_views, skeleton, layout, out_dir))
    return written


def _export_dataset(views: list[View], skeleton: str, layout: str, out_dir: Path) -> list[Path]:
    """Write the npz files of one dataset's views; see ``export_videopose3d``."""
    cameras_of_subject: dict[str, list[str]] = {}
    sequences: dict[tuple[str, str], dict[str, View]] = {}
    for view in views:
        subject = _subject_key(view)
        cameras_of_subject.setdefault(subject, [])
        if view.camera.name not in cameras_of_subject[subject]:
            cameras_of_subject[subject].append(view.camera.name)
        by_camera = sequences.setdefault((subject, view.sequence), {})
        if view.camera.name in by_camera:
            raise ValueError(f"two views of {view.describe()}: VideoPose3D files hold one per camera")
        by_camera[view.camera.name] = view
    for subject, names in cameras_of_subject.items():
        fixed = CAMERA_ORDER.get(views[0].dataset)
        unknown = sorted(set(names) - set(fixed or names))
        if unknown:
            raise ValueError(f"{views[0].dataset} cameras are {fixed}; {subject} has views of {unknown}")
        cameras_of_subject[subject] = list(fixed) if fixed else sorted(names, key=_natural_key)
    detection_names = sorted({name for view in views for name in view.extra_keypoints})
    positions_3d: dict[str, dict[str, np.ndarray]] = {}
    positions_2d: dict[str, dict[str, dict[str, list[np.ndarray | None]]]] = {
        name: {} for name in [GROUND_TRUTH_2D_NAME, *detection_names]
    }
    for (subject, sequence), by_camera in sequences.items():
        ordered = [by_camera.get(name) for name in cameras_of_subject[subject]]
        first = next(view for view in ordered if view is not None)
        if len({view.frames for view in by_camera.values()}) != 1:
            raise ValueError(f"views of {first.describe()} differ in length across cameras")
        world = camera_to_world(first.joints_3d.astype(np.float64), first.camera)
        if skeleton in EXPORT_3D_SKELETON:
            world = convert_joints(world, skeleton, EXPORT_3D_SKELETON[skeleton])
        positions_3d.setdefault(subject, {})[sequence] = world.astype(EXPORT_DTYPE)
        for name, per_subject in positions_2d.items():
            per_subject.setdefault(subject, {})[sequence] = [
                None if view is None else _view_2d(view, name) for view in ordered
            ]
    skeleton_definition = get_skeleton(skeleton)
    metadata = {
        "layout_name": layout,
        "num_joints": skeleton_definition.num_joints,
        "keypoints_symmetry": [list(skeleton_definition.left_indices), list(skeleton_definition.right_indices)],
    }
    path_3d = out_dir / f"data_3d_{layout}.npz"
    np.savez_compressed(path_3d, **{POSITIONS_3D_KEY: positions_3d})
    written = [path_3d]
    for name, per_subject in positions_2d.items():
        path_2d = out_dir / f"data_2d_{layout}_{name}.npz"
        np.savez_compressed(path_2d, **{POSITIONS_2D_KEY: per_subject, METADATA_KEY: metadata})
        written.append(path_2d)
    return written


def _view_2d(view: View, name: str) -> np.ndarray:
    """The 2D array exported as ``name``: a detection, or for ``"gt"`` the view's ground truth."""
    if name in view.extra_keypoints:
        return view.extra_keypoints[name].astype(EXPORT_DTYPE, copy=False)
    if name == GROUND_TRUTH_2D_NAME:
        return view.keypoints_2d.astype(EXPORT_DTYPE, copy=False)
    raise ValueError(f"{view.describe()} has no detection {name!r}; every view must carry the same detections")
