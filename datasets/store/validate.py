"""Checks that a pose store is what ``docs/store.md`` promises, reporting each problem by view and frame.

Every stage that writes a store re-opens it and runs ``validate_store`` before publishing a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from datasets.store.schema import DETECTION_PREFIX, INDEX_SCHEMA, REQUIRED_ARRAYS, SEQUENCE_COLUMNS, WORLD_ARRAY

if TYPE_CHECKING:
    from datasets.store.reader import PoseStore

FLOAT_ARRAY_DTYPE = np.dtype("float32")
FINITENESS_SCAN_FRAMES = 65536
"""Frames read at a time when scanning for NaN/inf (bounded memory on large stores)."""


@dataclass(frozen=True)
class StoreProblem:
    """One thing wrong with a store.

    Attributes:
        kind: ``"index"``, ``"gap"``, ``"overlap"``, ``"shape"``, ``"dtype"``, ``"missing_array"`` or
            ``"non_finite"``.
        view_ids: The views concerned (all views for a problem of a whole array).
        message: One sentence for a person, naming the views, array and frames.
        array: The array concerned, if any.
        frames: ``(first, last)`` frames concerned, relative to the first view in ``view_ids``, if any.
    """

    kind: str
    view_ids: tuple[int, ...]
    message: str
    array: str | None = None
    frames: tuple[int, int] | None = None

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


class StoreValidationError(ValueError):
    """Raised by ``raise_for_problems`` with every problem in the message."""


def raise_for_problems(problems: list[StoreProblem], where: str) -> None:
    """Raise ``StoreValidationError`` listing ``problems`` (at most 20 lines), if there are any."""
    if problems:
        lines = [str(problem) for problem in problems[:20]]
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise StoreValidationError(f"{len(problems)} problem(s) in store {where}:\n" + "\n".join(lines) + more)


def _describe_views(view_ids: np.ndarray) -> str:
    if len(view_ids) == 1:
        return f"view {view_ids[0]}"
    return f"views {view_ids[0]}..{view_ids[-1]}"


def _check_index(store: PoseStore) -> list[StoreProblem]:
    problems = []
    missing = [name for name in INDEX_SCHEMA.names if name not in store.index.column_names]
    if missing:
        problems.append(StoreProblem("index", (), f"Index lacks required columns {missing}."))
        return problems
    view_ids = store.index["view_id"].to_numpy()
    if not np.array_equal(view_ids, np.arange(len(view_ids))):
        problems.append(StoreProblem("index", tuple(int(v) for v in view_ids), "view_id must be 0..V-1 in row order."))
    return problems


def _shared_segments(store: PoseStore) -> tuple[np.ndarray, list[StoreProblem]]:
    """Rows owning their frame range (first view of each world-frame sequence), and problems of shared ranges.

    Views may share a range only when they are the same sequence.
    """
    starts, lengths = store.index["start"].to_numpy(), store.index["length"].to_numpy()
    if not store.is_world_frame:
        return np.arange(len(starts)), []
    names = [store.index[column].to_pylist() for column in SEQUENCE_COLUMNS]
    owner_of: dict[tuple[int, int], int] = {}
    owners, problems = [], []
    for row, key in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        owner = owner_of.setdefault(key, row)
        if owner == row:
            owners.append(row)
        elif any(column[row] != column[owner] for column in names):
            view_ids = store.index["view_id"].to_numpy()
            problems.append(StoreProblem("overlap", (int(view_ids[owner]), int(view_ids[row])),
                                         f"Views {view_ids[owner]} and {view_ids[row]} share frames {key[0]}.."
                                         f"{key[0] + key[1] - 1} but are different sequences."))  # fmt: skip
    return np.asarray(owners, dtype=np.int64), problems


def _check_coverage(store: PoseStore) -> list[StoreProblem]:
    """Frame ranges must tile ``[0, F)``: sorted by start, each begins where the previous ends.

    In a world-frame store the views of one sequence share one range, which counts once.
    """
    owners, problems = _shared_segments(store)
    view_ids = store.index["view_id"].to_numpy()
    starts = store.index["start"].to_numpy().astype(np.int64)
    lengths = store.index["length"].to_numpy().astype(np.int64)
    for view_id, length in zip(view_ids, lengths, strict=True):
        if length <= 0:
            problems.append(
                StoreProblem("index", (int(view_id),), f"View {view_id} has length {length}; it must be >= 1.")
            )
    view_ids, starts, lengths = view_ids[owners], starts[owners], lengths[owners]
    order = np.argsort(starts, kind="stable")
    expected_start = 0
    previous = None
    for row in order:
        view_id, start, end = int(view_ids[row]), int(starts[row]), int(starts[row] + lengths[row])
        if start > expected_start:
            concerned = (view_id,) if previous is None else (previous, view_id)
            where = "before the first view" if previous is None else f"between view {previous} and view {view_id}"
            problems.append(
                StoreProblem(
                    "gap",
                    concerned,
                    f"Frames {expected_start}..{start - 1} belong to no view (gap {where}).",
                    frames=(expected_start, start - 1),
                )
            )
        elif start < expected_start:
            problems.append(
                StoreProblem(
                    "overlap",
                    (previous, view_id),  # type: ignore[arg-type]
                    f"View {view_id} starts at frame {start}, inside view {previous} which ends at frame "
                    f"{expected_start - 1} (overlap of {expected_start - start} frames).",
                    frames=(start, expected_start - 1),
                )
            )
        expected_start = max(expected_start, end)
        previous = view_id
    if expected_start != store.frames:
        last = (previous,) if previous is not None else ()
        problems.append(
            StoreProblem(
                "gap" if expected_start < store.frames else "overlap",
                last,
                f"Views cover frames 0..{expected_start - 1} but the arrays hold {store.frames} frames.",
            )
        )
    return problems


def _expected_trailing_shapes(store: PoseStore, name: str) -> tuple[tuple[int, ...], ...]:
    joints = len(store.joint_names)
    if name in ("joints_3d", WORLD_ARRAY):
        return ((joints, 3),)
    if name == "keypoints_2d":
        return ((joints, 2),)
    if name.startswith(DETECTION_PREFIX):
        return ((joints, 2), (joints, 3))
    if name == "valid":
        return ((),)
    return ()  # per-frame arrays of the source's own: checked for frame count only


def _check_arrays(store: PoseStore) -> list[StoreProblem]:
    problems = []
    all_views = tuple(int(v) for v in store.index["view_id"].to_numpy())
    for name in REQUIRED_ARRAYS:
        if name not in store.arrays:
            problems.append(StoreProblem("missing_array", all_views, f"Required array {name!r} is missing."))
    for name in store.stored_arrays:
        array = store.array(name)
        if array.shape[0] != store.frames:
            problems.append(
                StoreProblem(
                    "shape",
                    all_views,
                    f"Array {name!r} has {array.shape[0]} frames, the store {store.frames} (all views).",
                    array=name,
                )
            )
        allowed = _expected_trailing_shapes(store, name)
        if allowed and tuple(array.shape[1:]) not in allowed:
            problems.append(
                StoreProblem(
                    "shape",
                    all_views,
                    f"Array {name!r} has frame shape {tuple(array.shape[1:])}; expected one of {list(allowed)} "
                    f"(all views).",
                    array=name,
                )
            )
        if not allowed:
            continue  # a per-frame array of the source's own (e.g. activity codes): any dtype
        expected_dtype = np.dtype(bool) if name == "valid" else FLOAT_ARRAY_DTYPE
        if np.dtype(array.dtype) != expected_dtype:
            problems.append(
                StoreProblem(
                    "dtype",
                    all_views,
                    f"Array {name!r} has dtype {array.dtype}, expected {expected_dtype} "
                    f"(affects {_describe_views(np.asarray(all_views))}).",
                    array=name,
                )
            )
    return problems


def _check_finite(store: PoseStore) -> list[StoreProblem]:
    """Report runs of non-finite frames per view and array."""
    problems = []
    view_ids = store.index["view_id"].to_numpy()
    starts = store.index["start"].to_numpy().astype(np.int64)
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    for name in store.stored_arrays:
        array = store.array(name)
        if not np.issubdtype(np.dtype(array.dtype), np.floating):
            continue
        bad_frames = []
        for first in range(0, array.shape[0], FINITENESS_SCAN_FRAMES):
            block = array[first : first + FINITENESS_SCAN_FRAMES]
            finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
            bad_frames.append(first + np.flatnonzero(~finite))
        bad = np.concatenate(bad_frames) if bad_frames else np.empty(0, np.int64)
        if bad.size == 0:
            continue
        rows = order[np.clip(np.searchsorted(sorted_starts, bad, side="right") - 1, 0, len(order) - 1)]
        # Split into runs of consecutive frames within one view.
        breaks = np.flatnonzero((np.diff(bad) != 1) | (np.diff(rows) != 0)) + 1
        for run_frames, run_rows in zip(np.split(bad, breaks), np.split(rows, breaks), strict=True):
            row = int(run_rows[0])
            view_id = int(view_ids[row])
            first, last = int(run_frames[0] - starts[row]), int(run_frames[-1] - starts[row])
            problems.append(
                StoreProblem(
                    "non_finite",
                    (view_id,),
                    f"Array {name!r}, view {view_id}: frames {first}..{last} hold NaN or inf "
                    f"(store frames {run_frames[0]}..{run_frames[-1]}).",
                    array=name,
                    frames=(first, last),
                )
            )
    return problems


def validate_store(store: PoseStore) -> list[StoreProblem]:
    """Every problem found in ``store``; an empty list means it is valid.

    Checks: required index columns and view ids; views tile the frame axis without gaps or overlaps; every
    array has F frames, the expected per-frame shape and dtype (float32, ``valid`` bool); no NaN or inf.
    """
    problems = _check_index(store)
    if problems:
        return problems
    return _check_coverage(store) + _check_arrays(store) + _check_finite(store)


MAX_JOINT_DISTANCE_FROM_ROOT_M = 3.0
"""Farthest a joint may lie from the root joint in a stored frame, metres. A standing adult's fingertips
are about 1.1 m from the pelvis with the arms raised; 3 m leaves room for any skeleton's root and for
noisy sources while refusing the values of overflowed or mis-scaled inputs (millimetres read as metres put
the hands ~1000 m away; a float32 overflow gives inf or 1e38)."""


def view_arrays_problem(arrays: Mapping[str, np.ndarray], root: int = 0) -> tuple[str, str] | None:
    """Why one converted view's frame arrays must not enter a store, or None when they may.

    Run on every converted view before it becomes a fragment, and on every cached fragment before it is
    reused, so that one file with extreme values is rejected by name instead of failing the store's
    validation for the whole batch.

    Args:
        arrays: ``datasets.store.view_arrays`` of the view: ``joints_3d`` (T, J, 3) float32 metres camera
            frame, ``keypoints_2d`` (T, J, 2) pixels (or ``joints_world`` (T, J, 3) metres world frame instead
            of both), detections, per-frame arrays, ``valid`` (T,) bool.
        root: Index of the skeleton's root joint.

    Returns:
        ``(reason, detail)``, reason one of ``zero_frames``, ``inconsistent_shapes``, ``non_finite_output``,
        ``implausible_output``; None when the view is usable.
    """
    joints_name = WORLD_ARRAY if WORLD_ARRAY in arrays else "joints_3d"
    joints = np.asarray(arrays[joints_name])
    frames = len(joints)
    if frames == 0:
        return "zero_frames", "the converted view has 0 frames"
    for name, values in arrays.items():
        if len(values) != frames:
            return "inconsistent_shapes", f"{name} has {len(values)} frames, {joints_name} {frames}"
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).reshape(frames, -1).any(axis=1).sum())
            return "non_finite_output", f"{name}: {bad} of {frames} converted frames hold NaN or inf"
    distance = np.linalg.norm(joints.astype(np.float64) - joints[:, root : root + 1], axis=-1)
    farthest = float(distance.max())
    if farthest > MAX_JOINT_DISTANCE_FROM_ROOT_M:
        frame, joint = np.unravel_index(int(distance.argmax()), distance.shape)
        return "implausible_output", (
            f"{joints_name}: joint {joint} lies {farthest:.3g} m from the root joint in frame {frame} "
            f"(at most {MAX_JOINT_DISTANCE_FROM_ROOT_M} m is plausible)"
        )
    return None
