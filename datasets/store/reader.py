"""Reading pose stores: ``open_store(workspace, ref)`` and the ``PoseStore`` it returns.

Stores are read the same way from a local directory or from object storage (``s3://bucket/prefix/...``):
the Icechunk repository through ``datasets.storage.icechunk_storage``, the index through fsspec. In a
world-frame store (schema 2) ``read`` and ``window`` derive a view's ``joints_3d`` and ``keypoints_2d`` from its
sequence's ``joints_world`` and its camera (``datasets.store.world``), so every consumer gets the same arrays
from either kind of store.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Literal

import icechunk
import numpy as np
import pyarrow as pa
import zarr

from datasets.cameras import Camera
from datasets.storage import Location, ObjectPath, as_location, icechunk_storage, read_parquet
from datasets.store.schema import (
    ARRAYS_DIRECTORY,
    INDEX_FILE,
    READABLE_VERSIONS,
    REQUIRED_ARRAYS,
    SCHEMA_MIGRATIONS,
    STORE_SCHEMA_VERSION,
    WORLD_ARRAY,
    StoreSchemaError,
)
from datasets.store.world import derive, index_camera
from datasets.workspace import Workspace

icechunk.set_logs_filter("error")

Padding = Literal["edge", "zero"]
CHECKSUM_CHUNKS_PER_READ = 16


class PoseStore:
    """A read-only view of one pose store at one Icechunk snapshot.

    Picklable: a copy re-opens the same location and snapshot in its own process (e.g. DataLoader workers).

    Attributes:
        directory: The store directory (holding ``arrays.icechunk`` and ``index.parquet``): a ``Path``, or an
            ``ObjectPath`` in object storage.
        snapshot: The Icechunk snapshot read, or None for the newest commit on ``main``.
        index: One row per view (``pyarrow.Table``), columns as in ``docs/store.md``.
        attributes: Root attributes: schema version, skeleton, joint names, units, frame and view counts.
    """

    def __init__(self, directory: str | os.PathLike | ObjectPath, snapshot: str | None = None) -> None:
        self.directory: Location = as_location(directory)
        self.snapshot = snapshot
        arrays_path = self.directory / ARRAYS_DIRECTORY
        index_path = self.directory / INDEX_FILE
        if not arrays_path.is_dir() or not index_path.is_file():
            raise StoreSchemaError(
                f"{self.directory} is not a pose store: it needs {ARRAYS_DIRECTORY}/ and {INDEX_FILE}."
            )
        repository = icechunk.Repository.open(icechunk_storage(arrays_path))
        if snapshot is None:
            session = repository.readonly_session(branch="main")
        else:
            session = repository.readonly_session(snapshot_id=snapshot)
        self._root = zarr.open_group(session.store, mode="r")
        self.attributes: dict[str, Any] = dict(self._root.attrs)
        version = self.attributes.get("schema_version")
        if version not in READABLE_VERSIONS:
            migration = SCHEMA_MIGRATIONS.get(version) if isinstance(version, int) else None
            hint = (
                f"Migrate it with {migration}."
                if migration
                else "Re-create it with this mocaplift version (python flows.py preprocess-...)."
            )
            raise StoreSchemaError(
                f"{self.directory} has store schema version {version!r}; this mocaplift reads versions "
                f"{list(READABLE_VERSIONS)} (writes {STORE_SCHEMA_VERSION}). {hint}"
            )
        self.index: pa.Table = read_parquet(index_path)
        self._starts = self.index["start"].to_numpy().astype(np.int64)
        self._lengths = self.index["length"].to_numpy().astype(np.int64)
        view_ids = self.index["view_id"].to_numpy()
        self._row_of_view = {int(view_id): row for row, view_id in enumerate(view_ids)}
        self._cameras: dict[int, Camera] = {}
        self._stored = tuple(sorted(name for name, _ in self._root.arrays()))

    def __getstate__(self) -> dict[str, Any]:
        # Icechunk sessions are reopened in each process (e.g. DataLoader workers), not pickled.
        return {"directory": self.directory, "snapshot": self.snapshot}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"], state["snapshot"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return (
            f"PoseStore({str(self.directory)!r}, views={self.index.num_rows}, frames={self.frames}, "
            f"arrays={list(self.arrays)})"
        )

    @property
    def arrays(self) -> tuple[str, ...]:
        """Names ``read`` and ``window`` accept, e.g. ``("joints_3d", "keypoints_2d", "keypoints_2d_cpn")``.

        The stored arrays plus, in a world-frame store, the derived camera-frame ones.
        """
        return tuple(sorted(set(self.stored_arrays) | set(self.derived_arrays)))

    @property
    def stored_arrays(self) -> tuple[str, ...]:
        """Names of the arrays on disk (what ``array``, checksums and validation read)."""
        return self._stored

    @property
    def is_world_frame(self) -> bool:
        """Whether views of a sequence share its ``joints_world`` frames (schema 2, ``docs/store.md``)."""
        return WORLD_ARRAY in self.stored_arrays

    @property
    def derived_arrays(self) -> tuple[str, ...]:
        """Arrays derived per view from ``joints_world`` and the view's camera (empty in a camera-frame store)."""
        return REQUIRED_ARRAYS if self.is_world_frame else ()

    def camera(self, view_id: int) -> Camera:
        """The camera of a view, rebuilt from its index row (cached)."""
        row = self._row(view_id)
        if row not in self._cameras:
            self._cameras[row] = index_camera(self.index, row)
        return self._cameras[row]

    @property
    def frames(self) -> int:
        """F, the total number of frames (all views)."""
        return int(self.attributes["frames"])

    @property
    def skeleton(self) -> str:
        """Skeleton name, e.g. ``"h36m17"`` (``datasets.skeletons.get_skeleton``)."""
        return str(self.attributes["skeleton"])

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Joint names in array order."""
        return tuple(self.attributes["joint_names"])

    def array(self, name: str) -> zarr.Array:
        """The stored Zarr array ``name`` (lazy; slicing reads only the chunks needed)."""
        if name in self.derived_arrays:
            raise KeyError(
                f"Store {self.directory} derives {name!r} per view from {WORLD_ARRAY!r} and the view's camera; "
                "read it with read() or window()."
            )
        if name not in self.stored_arrays:
            raise KeyError(f"Store {self.directory} has no array {name!r}; it has {list(self.arrays)}.")
        return self._root[name]

    def _row(self, view_id: int) -> int:
        try:
            return self._row_of_view[int(view_id)]
        except KeyError:
            raise KeyError(
                f"Store {self.directory} has no view {view_id}; view ids run "
                f"{min(self._row_of_view)}..{max(self._row_of_view)}."
            ) from None

    def view_range(self, view_id: int) -> tuple[int, int]:
        """``(start, length)`` of a view on the frame axis (shared by the views of a world-frame sequence)."""
        row = self._row(view_id)
        return int(self._starts[row]), int(self._lengths[row])

    def _frames(self, name: str, view_id: int, first: int, stop: int) -> np.ndarray:
        """Frames ``[first, stop)`` of the frame axis of array ``name`` as seen by view ``view_id``."""
        if name in self.derived_arrays:
            return derive(name, self._root[WORLD_ARRAY][first:stop], self.camera(view_id))
        return self.array(name)[first:stop]

    def read(self, name: str, view_id: int) -> np.ndarray:
        """All frames of one view of array ``name``: ``(length, ...)`` in the array's dtype and units."""
        start, length = self.view_range(view_id)
        return self._frames(name, view_id, start, start + length)

    def window(self, name: str, view_id: int, start: int, length: int, pad: Padding = "edge") -> np.ndarray:
        """Frames ``[start, start + length)`` of one view, padded where the window leaves the view.

        Args:
            name: Array name.
            view_id: The view.
            start: First frame, relative to the view's first frame; may be negative.
            length: Window length in frames.
            pad: ``"edge"`` repeats the first/last frame, ``"zero"`` fills zeros (False for booleans).

        Returns:
            ``(length, ...)`` array.
        """
        if pad not in ("edge", "zero"):
            raise ValueError(f"pad must be 'edge' or 'zero', got {pad!r}.")
        if length <= 0:
            raise ValueError(f"Window length must be positive, got {length}.")
        view_start, view_length = self.view_range(view_id)
        positions = np.arange(start, start + length)
        clipped = np.clip(positions, 0, view_length - 1)
        lowest, highest = int(clipped[0]), int(clipped[-1])
        frames = self._frames(name, view_id, view_start + lowest, view_start + highest + 1)
        window = frames[clipped - lowest]
        if pad == "zero":
            window[(positions < 0) | (positions >= view_length)] = 0
        return window

    def array_checksums(self) -> dict[str, str]:
        """SHA-256 of each stored array's values (``array_checksum``), by array name.

        Derived arrays are functions of the stored ones and of the index, which has its own checksum.
        """
        return {name: self.array_checksum(name) for name in self.stored_arrays}

    def array_checksum(self, name: str) -> str:
        """SHA-256 of one array's values (shape, dtype, then little-endian C-order bytes).

        Independent of chunking, compression and how many workers wrote the store: equal checksums mean
        value-identical arrays. Reads every chunk (a damaged one raises).
        """
        array = self.array(name)
        digest = hashlib.sha256(f"{list(array.shape)} {np.dtype(array.dtype).str}".encode())
        step = array.chunks[0] * CHECKSUM_CHUNKS_PER_READ
        for first in range(0, array.shape[0], step):
            block = np.ascontiguousarray(array[first : first + step])
            digest.update(block.astype(block.dtype.newbyteorder("<"), copy=False).tobytes())
        return digest.hexdigest()

    def validate(self) -> list:
        """Check shapes, dtypes, finiteness and index coverage; see ``datasets.store.validate``."""
        from datasets.store.validate import validate_store

        return validate_store(self)


def open_store(workspace: str | os.PathLike | ObjectPath | None, reference: str) -> PoseStore:
    """Open a pose store by version.

    Args:
        workspace: Workspace root, a directory or a URL such as ``s3://bucket/prefix`` (None:
            ``$MOCAPLIFT_WORKSPACE`` or ``./workspace``).
        reference: A version id (or unique prefix), a stage name (its newest version), or the path or URL of
            a store directory.

    Returns:
        The store, at the exact Icechunk snapshot its version recorded.
    """
    if (as_location(reference) / ARRAYS_DIRECTORY).is_dir():
        return PoseStore(reference)
    workspace = Workspace(workspace)
    manifest = workspace.resolve(reference)
    if "store" not in manifest.outputs:
        raise KeyError(
            f"Version {manifest.id} (stage {manifest.stage}) holds no pose store; its outputs are "
            f"{sorted(manifest.outputs)}."
        )
    output = manifest.outputs["store"]
    return PoseStore(workspace.output_path(manifest, "store"), snapshot=output.get("snapshot"))
