"""The pose store's schema: array names, index columns, units, chunking and the frame layout of views.

Layout of one store directory (documented for users in ``docs/store.md``)::

    <store>/
        arrays.icechunk/     Icechunk repository; its root Zarr group holds the frame arrays and attributes
        index.parquet        one row per view (a sequence seen by one camera): identity, split, camera, offsets

All frame segments are concatenated along axis 0 of every frame array in ``view_id`` order, so a view is the
frame range ``[start, start + length)``. Windows are index arithmetic on that flat axis; nothing is
materialised per clip. A *segment* is the frames one view owns in a camera-frame store (Human3.6M, MPI-INF-3DHP,
HumanEva: 3D and 2D stored per camera); in a world-frame store (AMASS, schema 2) it is one sequence, stored once
in ``joints_world``, and the views of that sequence (its virtual cameras) share its frame range: their
camera-frame 3D and 2D are derived by the reader from the camera parameters in the index
(``datasets.store.world``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

STORE_SCHEMA_VERSION = 2
"""Bumped on any incompatible change of the layout below; readers refuse versions not in ``READABLE_VERSIONS``.

Version 2 added world-frame stores (``WORLD_ARRAY``, views sharing a sequence's frames). A version-1 store is
a camera-frame store with the same layout, so version 2 reads it as it is; ``SCHEMA_MIGRATIONS`` rewrites a
version-1 AMASS store as a world-frame store to drop its per-camera copies."""

READABLE_VERSIONS = (1, 2)
"""Schema versions this code reads: 1 is the camera-frame subset of 2."""

SCHEMA_MIGRATIONS: Mapping[int, str] = {1: "datasets.store.migrate.migrate_to_world_frames"}
"""Schema version -> the function that rewrites a store of that version in the current one."""

ARRAYS_DIRECTORY = "arrays.icechunk"
INDEX_FILE = "index.parquet"

DEFAULT_CHUNK_FRAMES = 4096
"""Frames per chunk: 4096 x 17 x 3 float32 = 0.8 MB raw, a few hundred kB after zstd; a 243-frame window
touches one or two chunks."""

ZSTD_LEVEL = 3
SHUFFLE = "shuffle"
"""Blosc byte shuffle before zstd: float32 frames take fewer bytes than with plain zstd (measured: docs/store.md)."""

UNITS = {"joints_3d": "metres, camera frame", "keypoints_2d": "pixels", "fps": "hertz"}

INDEX_SCHEMA = pa.schema(
    [
        ("view_id", pa.int64()),
        ("dataset", pa.string()),
        ("subset", pa.string()),
        ("subject", pa.string()),
        ("action", pa.string()),
        ("sequence", pa.string()),
        ("camera", pa.string()),
        ("split", pa.string()),
        ("fps", pa.float64()),
        ("start", pa.int64()),
        ("length", pa.int64()),
        ("fx", pa.float64()),
        ("fy", pa.float64()),
        ("cx", pa.float64()),
        ("cy", pa.float64()),
        ("k", pa.list_(pa.float64(), 3)),
        ("p", pa.list_(pa.float64(), 2)),
        ("R", pa.list_(pa.float64(), 9)),
        ("t", pa.list_(pa.float64(), 3)),
        ("width", pa.int64()),
        ("height", pa.int64()),
    ]
)
"""Required index columns; stores may add more (e.g. ``out_of_frame_ratio``) after these."""

REQUIRED_ARRAYS = ("joints_3d", "keypoints_2d")
"""Camera-frame arrays every view can be read as; stored in a camera-frame store, derived in a world-frame one."""
WORLD_ARRAY = "joints_world"
"""(F, J, 3) float32 metres, world frame (``X_cam = R X_world + t``): the one array of a world-frame store's
sequences, from which the reader derives ``REQUIRED_ARRAYS`` per view."""
DETECTION_PREFIX = "keypoints_2d_"
SEQUENCE_COLUMNS = ("dataset", "subset", "subject", "sequence")
"""Index columns naming a sequence; views of one world-frame sequence agree on them."""


class StoreSchemaError(ValueError):
    """A store written with another schema version, or not a pose store at all."""


@dataclass(frozen=True)
class ArraySpec:
    """Shape after the frame axis and dtype of one frame array, e.g. ``(17, 3), float32``."""

    trailing_shape: tuple[int, ...]
    dtype: str

    @property
    def fill_value(self) -> Any:
        """NaN for floats (an unwritten frame then fails validation), False for booleans, 0 for integers."""
        kind = np.dtype(self.dtype).kind
        return float("nan") if kind == "f" else False if kind == "b" else 0


@dataclass(frozen=True)
class StoreLayout:
    """Where each view lives on the frame axis, and the chunk-aligned blocks parallel writers fill.

    Attributes:
        lengths: (V,) frames per view, in ``view_id`` order.
        chunk_frames: Frames per chunk along axis 0.
    """

    lengths: tuple[int, ...]
    chunk_frames: int = DEFAULT_CHUNK_FRAMES

    @property
    def starts(self) -> np.ndarray:
        """(V,) int64 first frame of each view."""
        return np.concatenate([[0], np.cumsum(self.lengths[:-1], dtype=np.int64)]).astype(np.int64)

    @property
    def total_frames(self) -> int:
        """F, the length of every frame array."""
        return int(sum(self.lengths))

    def blocks(self, chunks_per_block: int = 1) -> list[tuple[int, int]]:
        """Disjoint ``[start, stop)`` frame ranges aligned to chunk boundaries that tile ``[0, F)``.

        Two writers never touch the same chunk, so forked sessions merge without conflicts.
        """
        step = self.chunk_frames * chunks_per_block
        return [(start, min(start + step, self.total_frames)) for start in range(0, self.total_frames, step)]

    def views_in(self, start: int, stop: int) -> list[int]:
        """Segments (views of a camera-frame store) whose frames intersect ``[start, stop)``, in order."""
        starts = self.starts
        ends = starts + np.asarray(self.lengths, dtype=np.int64)
        return [int(v) for v in np.flatnonzero((starts < stop) & (ends > start))]


def frame_segments(rows: Sequence[Mapping[str, Any]], world: bool) -> list[int]:
    """The frame segment of each index row: its own in a camera-frame store, its sequence's in a world one.

    In a world-frame store consecutive rows of the same sequence (``SEQUENCE_COLUMNS``) and length share one
    segment: a converter emits a sequence's virtual cameras one after the other. A camera seen twice in such
    a run means two sequences with one name, which raises ``ValueError`` rather than merge them.

    Args:
        rows: Index rows (``datasets.store.view_row``) in view order.
        world: Whether the store holds ``WORLD_ARRAY``.

    Returns:
        (V,) segment number of each row, 0..S-1, non-decreasing.
    """
    segments: list[int] = []
    cameras: set[str] = set()  # cameras of the current segment
    for number, row in enumerate(rows):
        previous = rows[number - 1] if number else None
        shared = world and previous is not None and all(row[key] == previous[key] for key in SEQUENCE_COLUMNS)
        if shared and int(row["length"]) == int(previous["length"]):
            if row["camera"] in cameras:
                raise ValueError(
                    f"Views {number - len(cameras)}..{number} all name sequence {row['sequence']!r} and camera "
                    f"{row['camera']!r} repeats: two sequences share a name, so they cannot share frames."
                )
            segments.append(segments[-1])
        else:
            segments.append(segments[-1] + 1 if segments else 0)
            cameras = set()
        cameras.add(row["camera"])
    return segments


def segment_layout(
    rows: Sequence[Mapping[str, Any]], world: bool, chunk_frames: int = DEFAULT_CHUNK_FRAMES
) -> tuple[StoreLayout, list[int]]:
    """The frame layout of index rows (over ``frame_segments``) and the first row of each segment.

    Writers fill segment ``s`` with the arrays of row ``owners[s]``.
    """
    segments = frame_segments(rows, world)
    owners = [row for row, segment in enumerate(segments) if row == 0 or segments[row - 1] != segment]
    return StoreLayout(tuple(int(rows[row]["length"]) for row in owners), chunk_frames), owners
