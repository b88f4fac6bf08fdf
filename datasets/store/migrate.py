"""Rewrite a camera-frame store of virtual-camera views (a schema-1 AMASS store) as a world-frame store.

Schema 2 reads schema-1 stores as they are (they are its camera-frame subset), so nothing must be migrated;
migrating an AMASS store drops its per-camera copies (~1.0x the archive -> ~0.13x, ``docs/store.md``)::

    from datasets.store.migrate import migrate_to_world_frames
    migrate_to_world_frames("workspace/versions/<id>/store", "amass_world_store")

Each sequence's world joints come from its first view through the inverse extrinsics,
``X_world = R^T (X_cam - t)`` (``datasets.store.world.world_from_view``); every other view of the sequence must
agree with them to ``tolerance_m``, and every view's 2D must be the projection of its 3D to ``tolerance_px``
(a source's own 2D, e.g. HumanEva's, cannot be derived, so such a store is refused and stays camera-frame).
The target is written in blocks, like a conversion, so the source never has to fit in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from datasets.storage import ObjectPath
from datasets.store.reader import PoseStore
from datasets.store.schema import DETECTION_PREFIX, REQUIRED_ARRAYS, WORLD_ARRAY, ArraySpec, segment_layout
from datasets.store.world import film_world, world_from_view
from datasets.store.writer import create_store, index_table, write_block

WORLD_TOLERANCE_M = 1e-4
"""Largest disagreement, metres, between the world joints recovered from two views of one sequence (float32
camera-frame joints a few metres from the camera are exact to ~1e-6 m)."""

PROJECTION_TOLERANCE_PX = 1e-2
"""Largest difference, pixels, between a view's stored 2D and the projection of its stored 3D."""

RESERVED_ATTRIBUTES = ("schema_version", "skeleton", "joint_names", "units", "frames", "views")


class MigrationError(ValueError):
    """The store cannot become a world-frame store; the message names the views and the numbers."""


def _segment_arrays(
    source: PoseStore, view_ids: list[int], per_frame: list[str], tolerances: tuple[float, float]
) -> dict[str, np.ndarray]:
    """``WORLD_ARRAY`` and the per-frame arrays of one sequence, checked across its views."""
    world = None
    for view_id in view_ids:
        camera = source.camera(view_id)
        joints_3d = source.read("joints_3d", view_id)
        recovered = world_from_view(joints_3d, camera)
        error_px = float(np.abs(film_world(recovered, camera)[1] - source.read("keypoints_2d", view_id)).max())
        if error_px > tolerances[1]:
            raise MigrationError(
                f"View {view_id} of {source.directory}: its 2D differs from the projection of its 3D by up to "
                f"{error_px:.3g} px (> {tolerances[1]} px), so it is a source's own 2D; keep the store as it is."
            )
        if world is None:
            world = recovered
            continue
        error_m = float(np.abs(recovered - world).max())
        if error_m > tolerances[0]:
            raise MigrationError(
                f"Views {view_ids[0]} and {view_id} of {source.directory} share a sequence but their world joints "
                f"differ by up to {error_m:.3g} m (> {tolerances[0]} m); they are not views of one motion."
            )
    arrays = {WORLD_ARRAY: world.astype(np.float32)}
    for name in per_frame:
        values = [source.read(name, view_id) for view_id in view_ids]
        if any(not np.array_equal(values[0], other) for other in values[1:]):
            raise MigrationError(f"Views {view_ids} of {source.directory} disagree on per-frame array {name!r}.")
        arrays[name] = values[0]
    return arrays


def _target_specs(source: PoseStore) -> tuple[dict[str, ArraySpec], list[str]]:
    detections = [name for name in source.stored_arrays if name.startswith(DETECTION_PREFIX)]
    if source.is_world_frame or detections:
        why = "is already world-frame" if source.is_world_frame else f"holds a source's detections {detections}"
        raise MigrationError(f"Store {source.directory} {why}; it cannot be migrated to world frames.")
    per_frame = [name for name in source.stored_arrays if name not in REQUIRED_ARRAYS]
    joints = len(source.joint_names)
    specs = {WORLD_ARRAY: ArraySpec((joints, 3), "float32")}
    for name in per_frame:
        array = source.array(name)
        specs[name] = ArraySpec(tuple(array.shape[1:]), np.dtype(array.dtype).str)
    return specs, per_frame


def migrate_to_world_frames(
    source_directory: str | os.PathLike | ObjectPath,
    target_directory: str | os.PathLike | ObjectPath,
    tolerance_m: float = WORLD_TOLERANCE_M,
    tolerance_px: float = PROJECTION_TOLERANCE_PX,
    snapshot: str | None = None,
) -> str:
    """Write the camera-frame store at ``source_directory`` as a new world-frame store (schema 2).

    Args:
        source_directory: A camera-frame store whose consecutive views of one sequence are virtual cameras of
            it (a schema-1 AMASS store).
        target_directory: New store directory (must not hold a store yet).
        tolerance_m: ``WORLD_TOLERANCE_M``.
        tolerance_px: ``PROJECTION_TOLERANCE_PX``.
        snapshot: Icechunk snapshot of the source to read (None: newest on ``main``).

    Returns:
        The target's data snapshot id.

    Raises:
        MigrationError: A sequence's views disagree, a view's 2D is not its 3D's projection, or the store
            holds detections or is world-frame already.
    """
    source = PoseStore(source_directory, snapshot)
    specs, per_frame = _target_specs(source)
    rows = source.index.drop_columns(["view_id", "start"]).to_pylist()
    chunk_frames = int(source.array("joints_3d").chunks[0])
    layout, owners = segment_layout(rows, world=True, chunk_frames=chunk_frames)
    view_ids = source.index["view_id"].to_pylist()
    members = [view_ids[owner : (owners + [len(rows)])[number + 1]] for number, owner in enumerate(owners)]
    attributes: Mapping[str, Any] = {
        **{key: value for key, value in source.attributes.items() if key not in RESERVED_ATTRIBUTES},
        "migrated_from": {"schema_version": source.attributes["schema_version"], "store": str(source.directory)},
    }
    repository = create_store(
        target_directory, index_table(rows, world=True), specs, source.skeleton, source.joint_names, attributes,
        chunk_frames,
    )  # fmt: skip
    session = repository.writable_session("main")

    @lru_cache(maxsize=2)  # a sequence crossing a block boundary is read once
    def arrays_of_segment(segment: int) -> dict[str, np.ndarray]:
        return _segment_arrays(source, members[segment], per_frame, (tolerance_m, tolerance_px))

    for block in layout.blocks():
        write_block(session.store, layout, block, arrays_of_segment, specs)
    return session.commit(f"Migrate {source.directory} to world frames (schema 2)")
