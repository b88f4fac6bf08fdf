"""Window frames of a world-frame store: one world array per sequence, each view's camera applied per batch.

A world-frame store (schema 2, ``docs/store.md``) keeps an AMASS sequence's joints once, in the world frame,
and its views differ only by camera. ``WorldFrames`` answers the same ``gather(positions, rows, with_root)``
as ``MemoryFrames`` and ``ChunkFrames`` (``datasets.windows.frames``), with the same numbers as those read
from a camera-frame store: each window's joints are filmed by its view's camera with
``datasets.store.world.film_world`` (the reader's own derivation), then encoded like every other window
by ``datasets.windows.codec`` (2D to screen coordinates, 3D relative to the root). RAM holds ``joints_world``
(F_seq, J, 3) float32 and ``valid`` only, not a copy per camera: for full AMASS at 50 Hz about 1.5 GB
(``docs/store.md``).

- ``cache="memory"`` (or ``"auto"`` within ``memory_limit_bytes``): the world array lives in shared memory,
  mapped by DataLoader workers.
- ``cache="chunks"``: each batch reads the frames it needs from Zarr (orthogonal selection); each process
  opens its own Icechunk session.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from datasets.cameras import Camera
from datasets.store import WORLD_ARRAY, PoseStore
from datasets.store.world import film_world, index_camera
from datasets.windows.codec import SPATIAL_CHANNELS, normalise_keypoints, split_root


def world_array_bytes(store: PoseStore) -> int:
    """Bytes ``WorldFrames`` holds in RAM: the world joints (float32) and ``valid`` (one byte a frame)."""
    array = store.array(WORLD_ARRAY)
    return int(np.prod(array.shape)) * np.dtype(np.float32).itemsize + store.frames


class WorldFrames:
    """Frames of a world-frame store, filmed per batch by each window's view camera.

    Args:
        store: A world-frame pose store (``store.is_world_frame``).
        config: ``WindowConfig`` (``keypoints`` must be ``"keypoints_2d"``; ``cache``).
        root: Root joint index of the store's skeleton.
        in_memory: Hold the world array in RAM (else read Zarr per batch).
    """

    def __init__(self, store: PoseStore, config: Any, root: int, in_memory: bool) -> None:
        if config.keypoints != "keypoints_2d":
            raise KeyError(
                f"Store {store.directory} is a world-frame store: its only 2D is the projection 'keypoints_2d', "
                f"not {config.keypoints!r} (WindowConfig.keypoints)."
            )
        self.kind = "world-memory" if in_memory else "world-chunks"
        self.root_joint, self.index = root, store.index
        self.widths, self.heights = store.index["width"].to_numpy(), store.index["height"].to_numpy()
        self.directory, self.snapshot = store.directory, store.snapshot
        self.has_valid = "valid" in store.stored_arrays
        self._cameras: dict[int, Camera] = {}
        self._store: PoseStore | None = store
        self._pid = os.getpid()
        self._shared: dict[str, torch.Tensor] = {}
        if in_memory:
            world = np.asarray(store.array(WORLD_ARRAY)[:], dtype=np.float32)
            valid = np.asarray(store.array("valid")[:]) if self.has_valid else np.ones(store.frames, bool)
            self._shared = {"world": torch.from_numpy(world).share_memory_(),
                            "valid": torch.from_numpy(valid).share_memory_()}  # fmt: skip
        self.bytes = world_array_bytes(store) if in_memory else 0

    def __getstate__(self) -> dict[str, Any]:
        # Shared tensors travel as handles to the same memory; Icechunk sessions are reopened per process.
        state = dict(self.__dict__)
        state.update(_store=None, _cameras={}, _pid=None)
        return state

    def _open(self) -> PoseStore:
        if self._store is None or self._pid != os.getpid():
            self._store, self._pid = PoseStore(self.directory, self.snapshot), os.getpid()
        return self._store

    def _camera(self, row: int) -> Camera:
        if row not in self._cameras:
            self._cameras[row] = index_camera(self.index, row)
        return self._cameras[row]

    def _world(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World joints (B, P, J, 3) float32 and ``valid`` (B, P) at global frame ``positions`` (B, P)."""
        if self._shared:
            return (np.take(self._shared["world"].numpy(), positions, axis=0),
                    np.take(self._shared["valid"].numpy(), positions, axis=0))  # fmt: skip
        store = self._open()
        frames, inverse = np.unique(positions, return_inverse=True)
        world = np.asarray(store.array(WORLD_ARRAY).get_orthogonal_selection(frames), dtype=np.float32)
        valid = np.asarray(store.array("valid").get_orthogonal_selection(frames)) if self.has_valid else None
        shape = positions.shape
        return (world[inverse].reshape(*shape, *world.shape[1:]),
                np.ones(shape, bool) if valid is None else valid[inverse].reshape(shape))  # fmt: skip

    def gather(self, positions: np.ndarray, rows: np.ndarray, with_root: bool = False) -> dict[str, np.ndarray]:
        """Arrays of a batch at global frame ``positions`` (B, P), each window filmed by row ``rows`` (B,)."""
        world, valid = self._world(positions)
        joints = np.empty(world.shape, np.float32)  # (B, P, J, 3) metres, camera frame
        pixels = np.empty(world.shape[:-1] + (SPATIAL_CHANNELS,), np.float32)  # (B, P, J, 2)
        for row in np.unique(rows):
            same = rows == row
            joints[same], pixels[same] = film_world(world[same], self._camera(int(row)))
        relative, root = split_root(joints, self.root_joint)  # (B, P, J, 3), (B, P, 3)
        batch = {
            "keypoints": normalise_keypoints(pixels, self.widths[rows], self.heights[rows]),
            "joints_3d": relative,
            "valid": valid,
        }
        if with_root:
            batch["root"] = root
        return batch

    def describe(self) -> str:
        """One line: where frames come from."""
        where = f"RAM ({self.bytes / 1e6:.1f} MB)" if self._shared else "Zarr chunks read per batch"
        return f"world-frame joints from {where}, filmed per batch by each view's camera"
