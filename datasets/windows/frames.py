"""Where window frames come from: the whole store in RAM, or Zarr chunks through an LRU cache.

Both sources answer ``gather(positions, rows, with_root)`` with the model-ready arrays of a batch in one
vectorised step, encoded by ``datasets.windows.codec``: 2D keypoints in the view's screen coordinates (x in
[-1, 1]), 3D joints relative to the skeleton's root (metres, camera frame), the store's ``valid`` flags and,
if asked, the root itself (metres, camera frame).

- ``ArrayFrames`` holds model-ready arrays given to it (``from_pixels``: a detector's keypoints in memory, to lift).
- ``MemoryFrames`` reads each array once, normalises it per view and keeps it in RAM. Chosen when the arrays
  fit (``WindowConfig.cache``); DataLoader workers share the pages after ``fork``.
- ``ChunkFrames`` keeps no frames up front: it decodes the Zarr chunks a batch touches, normalises them like
  ``MemoryFrames`` and keeps the most recent ``cache_chunks`` in one preallocated slab per quantity (LRU), so a
  cached batch is gathered exactly as from RAM. Each process opens its own Icechunk
  session (sessions do not survive ``fork``; loaders using this source start workers with ``spawn``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from datasets.store import PoseStore
from datasets.windows.codec import SPATIAL_CHANNELS, normalise_keypoints, split_root


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


class ArrayFrames:
    """Model-ready frames held as arrays: 2D in screen coordinates, 3D root-relative; ``gather`` takes from them.

    The frame source of windows over sequences that live in memory rather than in a store
    (``PoseWindows.over_sequences``: a detector's keypoints to lift) and the base of ``MemoryFrames``.

    Args:
        keypoints: (F, J, 2) float32, screen-normalised (``normalise_keypoints``).
        joints_3d: (F, J, 3) float32, metres, root-relative (a read-only broadcast of zeros when there is no 3D).
        root: (F, 3) float32, metres, camera frame.
        valid: (F,) bool.
    """

    kind = "arrays"

    def __init__(self, keypoints: np.ndarray, joints_3d: np.ndarray, root: np.ndarray, valid: np.ndarray) -> None:
        self.keypoints, self.joints_3d, self.root, self.valid = keypoints, joints_3d, root, valid
        arrays = (keypoints, joints_3d, root, valid)
        self.bytes = sum(array.nbytes for array in arrays if 0 not in array.strides)  # broadcasts take none

    @classmethod
    def from_pixels(cls, pixels: np.ndarray, widths: np.ndarray, heights: np.ndarray) -> ArrayFrames:
        """Frames of 2D keypoints only (no 3D: zeros that take no memory, every frame valid).

        Args:
            pixels: (F, J, 2 or 3) pixels (a third, confidence channel is dropped).
            widths: (F,) image width of every frame, pixels.
            heights: (F,) image height of every frame, pixels.
        """
        frames, joints = pixels.shape[:2]
        keypoints = normalise_keypoints(np.asarray(pixels)[..., :SPATIAL_CHANNELS], widths, heights)
        zeros_3d = np.broadcast_to(np.zeros((1, joints, 3), np.float32), (frames, joints, 3))
        zeros_root = np.broadcast_to(np.zeros((1, 3), np.float32), (frames, 3))
        return cls(keypoints, zeros_3d, zeros_root, np.broadcast_to(np.ones(1, bool), (frames,)))

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
        return f"arrays in memory ({self.bytes / 1e6:.1f} MB, normalised once)"


class MemoryFrames(ArrayFrames):
    """Every frame of a store in RAM, pre-normalised: 2D in screen coordinates, 3D root-relative.

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
        keypoints = normalise_keypoints(pixels, widths, heights)
        del pixels
        joints = np.asarray(store.array("joints_3d")[:], dtype=np.float32)
        joints_3d, root_positions = split_root(joints, root, in_place=True)
        valid = np.asarray(store.array("valid")[:]) if "valid" in names else np.ones(store.frames, bool)
        super().__init__(keypoints, joints_3d, root_positions, valid)
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

    def describe(self) -> str:
        """One line: where frames come from."""
        return f"RAM ({self.bytes / 1e6:.1f} MB, normalised once at load)"


class ChunkFrames:
    """Frames read from Zarr on demand into a per-process cache of decoded, model-ready chunks.

    The cache is one preallocated slab per quantity, ``cache_chunks`` chunk-sized slots long, filled as the
    RAM source holds its arrays: keypoints normalised and joints made root-relative once, when a chunk is
    decoded. A batch whose chunks are cached is then one ``np.take`` per quantity from the slab, the RAM
    source's gather (no per-batch concatenation of cached chunks, no per-batch normalisation). Slots are
    recycled least-recently-used first; a batch touching more chunks than there are slots is gathered in
    rounds of at most ``cache_chunks`` chunks.

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
        self.frames, self.joints = store.frames, int(store.array("joints_3d").shape[1])
        order = np.argsort(store.index["start"].to_numpy(), kind="stable")
        self.view_starts = store.index["start"].to_numpy()[order]  # sorted, to find the view of a frame
        self.view_widths = store.index["width"].to_numpy()[order]
        self.view_heights = store.index["height"].to_numpy()[order]
        self._store: PoseStore | None = store
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._slabs: dict[str, np.ndarray] | None = None  # allocated at the first gather of each process
        self._slots: OrderedDict[int, int] = OrderedDict()  # chunk -> slot, least recently used first

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_store=None, _slabs=None, _slots=OrderedDict(), _pid=None)
        return state

    def _open(self) -> PoseStore:
        if self._store is None or self._pid != os.getpid():
            self._store = PoseStore(self.directory, self.snapshot)
            self._reset()
        return self._store

    def _allocate(self) -> dict[str, np.ndarray]:
        rows, joints = self.capacity * self.chunk_frames, self.joints
        return {
            "keypoints": np.zeros((rows, joints, SPATIAL_CHANNELS), np.float32),
            "joints_3d": np.zeros((rows, joints, 3), np.float32),
            "root": np.zeros((rows, 3), np.float32),
            "valid": np.ones(rows, bool),
        }

    def _decode(self, chunk: int, slot: int) -> None:
        """Read one chunk of every array, make it model-ready and write it into ``slot`` of the slabs."""
        store, slabs = self._open(), self._slabs
        first = chunk * self.chunk_frames
        last = min(first + self.chunk_frames, self.frames)
        rows = slice(slot * self.chunk_frames, slot * self.chunk_frames + last - first)
        views = np.searchsorted(self.view_starts, np.arange(first, last), side="right") - 1  # (n,) view of a frame
        pixels = np.asarray(store.array(self.names["keypoints"])[first:last])[..., :SPATIAL_CHANNELS]
        slabs["keypoints"][rows] = normalise_keypoints(pixels, self.view_widths[views], self.view_heights[views])
        joints = np.asarray(store.array("joints_3d")[first:last], dtype=np.float32)
        slabs["joints_3d"][rows], slabs["root"][rows] = split_root(joints, self.root_joint)
        if "valid" in self.names:
            slabs["valid"][rows] = np.asarray(store.array("valid")[first:last])

    def _slots_for(self, chunks: np.ndarray) -> np.ndarray:
        """Slots holding ``chunks`` (at most ``capacity`` distinct), decoding the missing ones into LRU slots."""
        if self._slabs is None or self._pid != os.getpid():
            self._open()
            self._slabs = self._allocate()
        for chunk in chunks.tolist():  # mark the cached ones recent first, so eviction spares them
            if chunk in self._slots:
                self._slots.move_to_end(chunk)
        free = iter(sorted(set(range(self.capacity)) - set(self._slots.values())))
        for chunk in chunks.tolist():
            if chunk not in self._slots:
                slot = next(free, None)
                if slot is None:
                    _, slot = self._slots.popitem(last=False)
                self._decode(chunk, slot)
                self._slots[chunk] = slot
        return np.array([self._slots[chunk] for chunk in chunks.tolist()], dtype=np.int64)

    def gather(self, positions: np.ndarray, rows: np.ndarray, with_root: bool = False) -> dict[str, np.ndarray]:
        """Arrays of a batch at global frame ``positions`` (B, P); ``rows`` (B,) is unused here."""
        chunks = positions // self.chunk_frames
        offsets = positions - chunks * self.chunk_frames
        touched = np.flatnonzero(np.bincount(chunks.ravel()))
        names = ["keypoints", "joints_3d", "valid", *(["root"] if with_root else [])]
        rounds = np.array_split(touched, -(-len(touched) // self.capacity))
        batch: dict[str, np.ndarray] = {}
        for group in rounds:
            slot_of = np.full(touched[-1] + 1, -1, dtype=np.int64)
            slot_of[group] = self._slots_for(group)
            slots = slot_of[chunks]  # (B, P), -1 where another round's chunk
            local = slots * self.chunk_frames + offsets
            if len(rounds) == 1:
                return {name: np.take(self._slabs[name], local, axis=0) for name in names}
            here = slots >= 0
            for name in names:
                slab = self._slabs[name]
                batch.setdefault(name, np.empty(positions.shape + slab.shape[1:], slab.dtype))[here] = slab[local[here]]
        return batch

    def describe(self) -> str:
        """One line: where frames come from."""
        return (
            f"Zarr chunks of {self.chunk_frames} frames through an LRU cache of {self.capacity} decoded, normalised "
            "chunks per process"
        )


def open_frames(store: PoseStore, config: Any, root: int) -> MemoryFrames | ChunkFrames | Any:
    """The frame source ``config.cache`` asks for (``"auto"``: RAM if the arrays fit in ``memory_limit_bytes``).

    A world-frame store (schema 2) gets ``datasets.windows.world_frames.WorldFrames``.
    """
    mode = config.cache
    if store.is_world_frame:
        from datasets.windows.world_frames import WorldFrames, world_array_bytes

        in_memory = mode == "memory" or (mode == "auto" and world_array_bytes(store) <= config.memory_limit_bytes)
        return WorldFrames(store, config, root, in_memory)
    if mode == "auto":
        needed = array_bytes(store, _frames_needed(store, config))
        mode = "memory" if needed <= config.memory_limit_bytes else "chunks"
    return MemoryFrames(store, config, root) if mode == "memory" else ChunkFrames(store, config, root)
