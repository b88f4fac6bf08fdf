"""The pose store's schema: array names, index columns, units, chunking and the frame layout of views.

Layout of one store directory (documented for users in ``docs/store.md``)::

    <store>/
        arrays.icechunk/     Icechunk repository; its root Zarr group holds the frame arrays and attributes
        index.parquet        one row per view (a sequence seen by one camera): identity, split, camera, offsets

All views are concatenated along axis 0 of every frame array in ``view_id`` order, so a view is the frame
range ``[start, start + length)``. Windows are index arithmetic on that flat axis; nothing is materialised
per clip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

STORE_SCHEMA_VERSION = 1
"""Bumped on any incompatible change of the layout below; readers refuse other versions."""

SCHEMA_MIGRATIONS: Mapping[int, str] = {}
"""Schema version -> the name of the function that migrates a store from it to the next version."""

ARRAYS_DIRECTORY = "arrays.icechunk"
INDEX_FILE = "index.parquet"

DEFAULT_CHUNK_FRAMES = 4096
"""Frames per chunk: 4096 x 17 x 3 float32 = 0.8 MB raw, a few hundred kB after zstd; a 243-frame window
touches one or two chunks."""

ZSTD_LEVEL = 3

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
DETECTION_PREFIX = "keypoints_2d_"


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
        """View ids whose frames intersect ``[start, stop)``, in order."""
        starts = self.starts
        ends = starts + np.asarray(self.lengths, dtype=np.int64)
        return [int(v) for v in np.flatnonzero((starts < stop) & (ends > start))]
