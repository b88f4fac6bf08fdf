"""Writing pose stores: the Icechunk three-step write (schema commit, disjoint block writes, one merge commit).

``create_store`` writes the index and empty arrays and commits; writers fill disjoint chunk-aligned frame
blocks (``StoreLayout.blocks``) in forked sessions, possibly on other processes; ``commit_store`` merges the
forks and makes one commit carrying the lineage. ``write_store`` does all three in-process for readers whose
views fit in memory. Because blocks never share a chunk and views are laid out in a fixed order, the result is
value-identical however many workers wrote it. Store directories may be local paths or object-storage
locations (``datasets.storage``); forked sessions carry no credentials, each worker resolves its own from
the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import icechunk
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import zarr

from datasets.storage import ObjectPath, as_location, icechunk_storage, write_parquet
from datasets.store.schema import (
    ARRAYS_DIRECTORY,
    DEFAULT_CHUNK_FRAMES,
    DETECTION_PREFIX,
    INDEX_FILE,
    INDEX_SCHEMA,
    REQUIRED_ARRAYS,
    SHUFFLE,
    STORE_SCHEMA_VERSION,
    UNITS,
    WORLD_ARRAY,
    ZSTD_LEVEL,
    ArraySpec,
    StoreLayout,
    frame_segments,
    segment_layout,
)
from datasets.views import View

icechunk.set_logs_filter("error")  # local storage warns on every open that concurrent commits are unsafe;
# mocaplift commits each store from one coordinator only (docs/versioning.md).


def view_row(view: View) -> dict[str, Any]:
    """A view's index row without its position (``view_id``, ``start``): identity, camera, extra columns."""
    return {
        "dataset": view.dataset,
        "subset": view.subset,
        "subject": view.subject,
        "action": view.action,
        "sequence": view.sequence,
        "camera": view.camera.name,
        "split": view.split,
        "fps": float(view.fps),
        "length": view.frames,
        **view.camera.to_index_row(),
        **view.extra_columns,
    }


def index_table(rows: Sequence[Mapping[str, Any]], world: bool = False) -> pa.Table:
    """The index of views laid out in the given order: ``view_row``s plus ``view_id`` and ``start``.

    Every row must carry the same extra columns (those beyond ``INDEX_SCHEMA``). With ``world`` (a store of
    ``WORLD_ARRAY``), consecutive views of one sequence share its frames (``schema.frame_segments``).
    """
    if not rows:
        raise ValueError("A pose store needs at least one view.")
    required = set(INDEX_SCHEMA.names) - {"view_id", "start"}
    extra_keys = sorted(set(rows[0]) - required)
    for row in rows:
        missing = required - set(row)
        if missing:
            raise ValueError(f"Index row {row.get('sequence')!r} lacks columns {sorted(missing)}.")
        if sorted(set(row) - required) != extra_keys:
            raise ValueError(
                f"Every view must carry the same extra index columns: {row['sequence']!r} has "
                f"{sorted(set(row) - required)}, the first view has {extra_keys}."
            )
    layout, _ = segment_layout(rows, world)
    starts = layout.starts[frame_segments(rows, world)]
    positions = {"view_id": list(range(len(rows))), "start": [int(start) for start in starts]}
    columns = {
        name: pa.array(
            positions[name] if name in positions else [row[name] for row in rows], INDEX_SCHEMA.field(name).type
        )
        for name in INDEX_SCHEMA.names
    }
    columns.update({name: pa.array([row[name] for row in rows]) for name in extra_keys})
    return pa.table(columns)


def view_specs(view: View) -> dict[str, ArraySpec]:
    """The frame arrays one view needs: the two required ones, its detections, and ``valid`` if it has one.

    A world-frame view needs ``WORLD_ARRAY`` instead of the two required ones.
    """
    joints = view.joints_3d.shape[1]
    if view.joints_world is not None:
        specs = {WORLD_ARRAY: ArraySpec((joints, 3), "float32")}
    else:
        specs = {"joints_3d": ArraySpec((joints, 3), "float32"), "keypoints_2d": ArraySpec((joints, 2), "float32")}
    for name, keypoints in sorted(view.extra_keypoints.items()):
        specs[DETECTION_PREFIX + name] = ArraySpec((joints, keypoints.shape[2]), "float32")
    for name, values in sorted(view.per_frame.items()):
        specs[name] = ArraySpec((), values.dtype.str)
    if view.valid is not None:
        specs["valid"] = ArraySpec((), "bool")
    return specs


def _is_keypoint_array(name: str) -> bool:
    return name in REQUIRED_ARRAYS or name == WORLD_ARRAY or name.startswith(DETECTION_PREFIX)


def merge_specs(per_view: Sequence[Mapping[str, ArraySpec]], names: Sequence[str]) -> dict[str, ArraySpec]:
    """The arrays of a whole store from each view's ``view_specs``.

    Views must agree on the joint and keypoint arrays. Per-frame arrays (``valid``, a source's own such as
    ``activity``) may be missing from some views: the store then has them, and those views' frames hold the
    array's fill value (``valid``: True).

    Args:
        per_view: ``view_specs`` of every view, in order.
        names: A readable name per view, for the error message.
    """
    first = {name: spec for name, spec in per_view[0].items() if _is_keypoint_array(name)}
    merged = dict(first)
    for specs, name in zip(per_view, names, strict=True):
        keypoints = {key: spec for key, spec in specs.items() if _is_keypoint_array(key)}
        if keypoints != first:
            raise ValueError(
                f"Every view must carry the same arrays (same joints and detections): {name} has "
                f"{sorted(keypoints.items())}, the first view has {sorted(first.items())}."
            )
        for key, spec in specs.items():
            if key in merged and merged[key] != spec:
                raise ValueError(f"Per-frame array {key!r} of {name} is {spec}, other views have {merged[key]}.")
            merged.setdefault(key, spec)
    return merged


def array_specs(views: Sequence[View]) -> dict[str, ArraySpec]:
    """The frame arrays a list of views needs (see ``merge_specs``)."""
    return merge_specs([view_specs(view) for view in views], [view.describe() for view in views])


def view_arrays(view: View) -> dict[str, np.ndarray]:
    """A view's frame arrays by store array name (``valid`` defaults to all True).

    A world-frame view has its joints as ``WORLD_ARRAY`` instead of the camera-frame pair.
    """
    if view.joints_world is not None:
        arrays = {WORLD_ARRAY: np.asarray(view.joints_world, dtype=np.float32)}
    else:
        arrays = {"joints_3d": view.joints_3d, "keypoints_2d": view.keypoints_2d}
    arrays.update({DETECTION_PREFIX + name: value for name, value in view.extra_keypoints.items()})
    arrays.update(view.per_frame)
    arrays["valid"] = np.ones(view.frames, bool) if view.valid is None else view.valid
    return arrays


def create_store(
    directory: str | os.PathLike | ObjectPath,
    index: pa.Table,
    specs: Mapping[str, ArraySpec],
    skeleton: str,
    joint_names: Sequence[str],
    attributes: Mapping[str, Any] | None = None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
) -> icechunk.Repository:
    """Write the index and the empty frame arrays, and commit them (step 1 of a write).

    Args:
        directory: New store directory, local or in object storage (created; must not hold a store yet).
        index: One row per view, with at least ``INDEX_SCHEMA``'s columns.
        specs: Frame arrays to create, by name.
        skeleton: Skeleton name (``datasets.skeletons``), e.g. ``"h36m17"``.
        joint_names: Joint names in array order.
        attributes: Extra root attributes (JSON-serialisable), e.g. the source dataset's name.
        chunk_frames: Frames per chunk.

    Returns:
        The repository, with one commit holding the schema.
    """
    directory = as_location(directory)
    missing = [name for name in REQUIRED_ARRAYS if name not in specs]
    if missing and WORLD_ARRAY not in specs:
        raise ValueError(f"A pose store needs the arrays {REQUIRED_ARRAYS} or {WORLD_ARRAY!r}; missing {missing}.")
    if WORLD_ARRAY in specs and len(missing) < len(REQUIRED_ARRAYS):
        raise ValueError(f"A world-frame store ({WORLD_ARRAY!r}) derives {REQUIRED_ARRAYS}; it cannot store them.")
    directory.mkdir(parents=True, exist_ok=True)
    write_parquet(directory / INDEX_FILE, index, compression="zstd")
    frames = int(pc.max(pc.add(index["start"], index["length"])).as_py() or 0)
    repository = icechunk.Repository.create(icechunk_storage(directory / ARRAYS_DIRECTORY))
    session = repository.writable_session("main")
    root = zarr.open_group(session.store, mode="w")
    root.attrs.update(
        {
            "schema_version": STORE_SCHEMA_VERSION,
            "skeleton": skeleton,
            "joint_names": list(joint_names),
            "units": UNITS,
            "frames": frames,
            "views": index.num_rows,
            **dict(attributes or {}),
        }
    )
    for name, spec in specs.items():
        root.create_array(
            name,
            shape=(frames, *spec.trailing_shape),
            chunks=(chunk_frames, *spec.trailing_shape),
            dtype=spec.dtype,
            compressors=zarr.codecs.BloscCodec(cname="zstd", clevel=ZSTD_LEVEL, shuffle=SHUFFLE),
            fill_value=spec.fill_value,
            dimension_names=["frame", *(f"axis_{i}" for i in range(1, len(spec.trailing_shape) + 1))],
        )
    session.commit("Create pose store schema", metadata={"schema_version": STORE_SCHEMA_VERSION})
    return repository


def write_block(
    session_store: Any,
    layout: StoreLayout,
    block: tuple[int, int],
    arrays_of_view: Callable[[int], Mapping[str, np.ndarray]],
    names: Iterable[str],
) -> None:
    """Fill the frames ``[block[0], block[1])`` of the named arrays (step 2; one call per block).

    Args:
        session_store: ``session.store`` of a writable or forked Icechunk session.
        layout: The store's layout.
        block: A chunk-aligned frame range from ``layout.blocks()``.
        arrays_of_view: segment of ``layout`` (a view of a camera-frame store; ``schema.segment_layout``) ->
            the arrays of the view that fills it, by name (e.g. ``view_arrays(views[owners[i]])``).
        names: Arrays to write.
    """
    start, stop = block
    names = list(names)
    root = zarr.open_group(session_store, mode="r+")
    buffers = {name: [] for name in names}
    for view_id in layout.views_in(start, stop):
        view_start = int(layout.starts[view_id])
        first = max(start, view_start) - view_start
        last = min(stop, view_start + layout.lengths[view_id]) - view_start
        arrays = arrays_of_view(view_id)
        for name in names:
            if name in arrays:
                buffers[name].append(np.asarray(arrays[name])[first:last])
            else:  # a per-frame array this view does not have: the array's fill value
                target = root[name]
                buffers[name].append(np.full((last - first, *target.shape[1:]), target.fill_value, target.dtype))
    for name in names:
        target = root[name]
        target[start:stop] = np.concatenate(buffers[name]).astype(target.dtype, copy=False)


def commit_store(
    repository: icechunk.Repository,
    forks: Sequence[Any],
    message: str,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Merge the writers' forked sessions and make one commit (step 3). Returns the snapshot id."""
    session = repository.writable_session("main")
    if forks:
        session.merge(*forks)
    return session.commit(message, metadata=dict(metadata or {}))


def write_store(
    directory: str | os.PathLike | ObjectPath,
    views: Sequence[View],
    skeleton: str,
    joint_names: Sequence[str],
    attributes: Mapping[str, Any] | None = None,
    chunk_frames: int = DEFAULT_CHUNK_FRAMES,
    commit_metadata: Mapping[str, Any] | None = None,
) -> str:
    """Write views that fit in memory as a new store, in one process. Returns the data snapshot id."""
    specs = array_specs(views)
    rows = [view_row(view) for view in views]
    layout, owners = segment_layout(rows, WORLD_ARRAY in specs, chunk_frames)
    index = index_table(rows, WORLD_ARRAY in specs)
    repository = create_store(directory, index, specs, skeleton, joint_names, attributes, chunk_frames)
    session = repository.writable_session("main")
    for block in layout.blocks():
        write_block(session.store, layout, block, lambda segment: view_arrays(views[owners[segment]]), specs)
    return session.commit("Write pose store frames", metadata=dict(commit_metadata or {}))
