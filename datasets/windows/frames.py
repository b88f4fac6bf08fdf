"""Where window frames come from: the whole store in RAM, or Zarr chunks through an LRU cache.

Both sources answer ``gather(positions, rows, with_root)`` with the model-ready arrays of a batch in one
vectorised step: 2D keypoints normalised to the view's image (``datasets.cameras.pixels_to_normalized``: x in
[-1, 1]), 3D joints relative to the skeleton's root (metres, camera frame), the store's ``valid`` flags and,
if asked, the root itself (metres, camera frame).

- ``MemoryFrames`` reads each array once, normalises it per view and keeps it in RAM. Chosen when the arrays
  fit (``WindowConfig.cache``); DataLoader workers share the pages after ``fork``.
- ``ChunkFrames`` keeps no frames up front: it decodes the Zarr chunks a batch touches, keeps the most recent
  ``cache_chunks`` per array (LRU), and normalises after gathering. Each process opens its own Icechunk
  session (sessions do not survive ``fork``; loaders using this source start workers with ``spawn``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from datasets.cameras import pixels_to_normalized
from datasets.store import PoseStore

SPATIAL_CHANNELS = 2
"""x, y: channels of the 2D input (a detector's confidence channel is dropped)."""


def normalise_keypoints(keypoints: np.ndarray, widths: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """Pixels to screen coordinates per window (``pixels_to_normalized`` for each distinct image size).

    Args:
        keypoints: (B, ..., 2) pixels.
        widths: (B,) image widths, pixels.
        heights: (B,) image heights, pixels.

    Returns:
        (B, ..., 2) float32: x in [-1, 1], y scaled alike.
    """
    normalised = np.empty(keypoints.shape, dtype=np.float32)
    sizes = np.stack([widths, heights], axis=1)
    for width, height in np.unique(sizes, axis=0):
        same = (sizes[:, 0] == width) & (sizes[:, 1] == height)
        normalised[same] = pixels_to_normalized(keypoints[same], int(width), int(height))
    return normalised


def _frames_needed(store: PoseStore, config: Any) -> dict[str, str]:
    """Store array read for each quantity: ``{"keypoints": name, "joints_3d": "joints_3d"[, "valid": "valid"]}``."""
    if config.keypoints not in store.arrays:
        raise KeyError(
            f"Store {store.directory} has no 2D array {config.keypoints!r} (WindowConfig.keypoints); "
            f"it has {list(store.arrays)}."
        )
    names = {"keypoints": config.keypoints, "joints_3d": "joints_3d"}
    if "valid" in store.arrays:
        names["valid"] = "valid"
    return names


def array_bytes(store: PoseStore, names: dict[str, str]) -> int:
    """Bytes the named arrays take decoded in RAM (keypoints counted with 2 channels)."""
    total = 0
    for quantity, name in names.items():
        array = store.array(name)
        trailing = list(array.shape[1:])
        if quantity == "keypoints":
            trailing[-1] = SPATIAL_CHANNELS
        total += int(np.prod([array.shape[0], *trailing])) * np.dtype(array.dtype).itemsize
    total += store.frames * 3 * 4  # the root trajectory (F, 3) float32 kept beside the root-relative joints
    return total


SHARED_ARRAYS = ("keypoints", "joints_3d", "root", "valid")
"""``MemoryFrames`` arrays held in shared memory, so worker processes map them instead of copying them."""


class MemoryFrames:
    """Every frame in RAM, pre-normalised: 2D in screen coordinates, 3D root-relative.

    The arrays live in shared memory (torch tensors, seen here as numpy views): DataLoader workers are
    started fresh (spawned, never forked from a process running Prefect's or Icechunk's threads) and receive
    handles to the same pages when the frames are pickled to them.

    Args:
        store: The pose store (read whole, once).
        config: ``WindowConfig`` (which 2D array).
        root: Root joint index of the store's skeleton.
    """

    kind = "memory"

    def __init__(self, store: PoseStore, config: Any, root: int) -> None:
        names = _frames_needed(store, config)
        lengths = store.index["length"].to_numpy()
        widths = np.repeat(store.index["width"].to_numpy(), lengths)  # (F,) image size of every frame
        heights = np.repeat(store.index["height"].to_numpy(), lengths)
        pixels = np.asarray(store.array(names["keypoints"])[:])[..., :SPATIAL_CHANNELS]
        self.keypoints = normalise_keypoints(pixels, widths, heights)
        del pixels
        joints = np.asarray(store.array("joints_3d")[:], dtype=np.float32)
        self.root = np.ascontiguousarray(joints[:, root])
        joints -= self.root[:, None]
        self.joints_3d = joints
        self.valid = np.asarray(store.array("valid")[:]) if "valid" in names else np.ones(store.frames, bool)
        self.bytes = self.keypoints.nbytes + self.joints_3d.nbytes + self.root.nbytes + self.valid.nbytes
        self._adopt({name: torch.from_numpy(np.ascontiguousarray(getattr(self, name))).share_memory_()
                     for name in SHARED_ARRAYS})  # fmt: skip

    def _adopt(self, tensors: dict[str, torch.Tensor]) -> None:
        self._shared = tensors
        for name, tensor in tensors.items():
            setattr(self, name, tensor.numpy())

    def __getstate__(self) -> dict[str, Any]:
        # Pickled through torch.multiprocessing, shared tensors travel as handles to the same memory.
        return {"shared": self._shared, "bytes": self.bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.bytes = state["bytes"]
        self._adopt(state["shared"])

    def gather(self, positions: np.ndarray, rows: np.ndarray, with_root: bool = False) -> dict[str, np.ndarray]:
        """Arrays of a batch at global frame ``positions`` (B, P); ``rows`` (B,) is unused here."""
        batch = {
            "keypoints": np.take(self.keypoints, positions, axis=0),
            "joints_3d": np.take(self.joints_3d, positions, axis=0),
            "valid": np.take(self.valid, positions, axis=0),
        }
        if with_root:
            batch["root"] = np.take(self.root, positions, axis=0)
        return batch

    def describe(self) -> str:
        """One line: where frames come from."""
        return f"RAM ({self.bytes / 1e6:.1f} MB, normalised once at load)"


class ChunkFrames:
    """Frames read from Zarr on demand through a per-process LRU cache of decoded chunks.

    Args:
        store: The pose store (reopened in each process that gathers).
        config: ``WindowConfig`` (2D array, ``cache_chunks``).
        root: Root joint index of the store's skeleton.
    """

    kind = "chunks"

    def __init__(self, store: PoseStore, config: Any, root: int) -> None:
        self.names = _frames_needed(store, config)
        self.directory, self.snapshot = store.directory, store.snapshot
        self.capacity, self.root_joint = config.cache_chunks, root
        self.chunk_frames = int(store.array("joints_3d").chunks[0])
        self.widths = store.index["width"].to_numpy()
        self.heights = store.index["height"].to_numpy()
        self._store: PoseStore | None = store
        self._pid = os.getpid()
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_store=None, _cache=OrderedDict(), _pid=None)
        return state

    def _open(self) -> PoseStore:
        if self._store is None or self._pid != os.getpid():
            self._store, self._pid, self._cache = PoseStore(self.directory, self.snapshot), os.getpid(), OrderedDict()
        return self._store

    def _chunk(self, name: str, chunk: int) -> np.ndarray:
        key = (name, chunk)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        first = chunk * self.chunk_frames
        data = np.asarray(self._open().array(name)[first : first + self.chunk_frames])
        self._cache[key] = data
        if len(self._cache) > self.capacity * len(self.names):
            self._cache.popitem(last=False)
        return data

    def _take(self, name: str, positions: np.ndarray) -> np.ndarray:
        """Gather rows at global ``positions`` from the touched chunks laid side by side (one ``np.take``)."""
        chunks = positions // self.chunk_frames
        touched = np.flatnonzero(np.bincount(chunks.ravel()))
        pieces = [self._chunk(name, int(chunk)) for chunk in touched]
        slot = np.zeros(touched[-1] + 1, dtype=np.int64)
        slot[touched] = np.concatenate([[0], np.cumsum([len(piece) for piece in pieces])[:-1]])
        local = slot[chunks] + (positions - chunks * self.chunk_frames)
        return np.take(np.concatenate(pieces), local, axis=0)

    def gather(self, positions: np.ndarray, rows: np.ndarray, with_root: bool = False) -> dict[str, np.ndarray]:
        """Arrays of a batch at global frame ``positions`` (B, P) of the views in index ``rows`` (B,)."""
        pixels = self._take(self.names["keypoints"], positions)[..., :SPATIAL_CHANNELS]
        joints = self._take("joints_3d", positions).astype(np.float32, copy=False)
        root = joints[..., self.root_joint, :]
        valid = self._take("valid", positions) if "valid" in self.names else np.ones(positions.shape, bool)
        batch = {
            "keypoints": normalise_keypoints(pixels, self.widths[rows], self.heights[rows]),
            "joints_3d": joints - root[..., None, :],
            "valid": valid,
        }
        if with_root:
            batch["root"] = root
        return batch

    def describe(self) -> str:
        """One line: where frames come from."""
        return (
            f"Zarr chunks of {self.chunk_frames} frames through an LRU cache of {self.capacity} chunks per array "
            "and process"
        )


def open_frames(store: PoseStore, config: Any, root: int) -> MemoryFrames | ChunkFrames:
    """The frame source ``config.cache`` asks for (``"auto"``: RAM if the arrays fit in ``memory_limit_bytes``)."""
    mode = config.cache
    if mode == "auto":
        needed = array_bytes(store, _frames_needed(store, config))
        mode = "memory" if needed <= config.memory_limit_bytes else "chunks"
    return MemoryFrames(store, config, root) if mode == "memory" else ChunkFrames(store, config, root)
