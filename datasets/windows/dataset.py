"""Torch datasets of windows over pose stores, a weighted mix of them, and their DataLoader.

Windows are addressed by key ``(epoch, index)``; the epoch seeds the per-window random choices (input
stride, key-frame shift, virtual camera), so a window is the same however and wherever it is loaded. Whole
batches are gathered at once through ``__getitems__`` (index arithmetic, one ``np.take`` per array).

A batch is a dict of arrays with the batch on axis 0 (``P`` poses per window, ``J`` joints):

=================  ================  ===========================================================
key                shape, dtype      meaning
=================  ================  ===========================================================
keypoints          (B, P, J, 2) f32  2D input, screen-normalised (x in [-1, 1]); 0 at non-key-frames
joints_3d          (B, P, J, 3) f32  3D target, metres, camera frame, relative to the root joint
root               (B, P, 3) f32     the root joint, metres, camera frame (``include_root`` or
                                     virtual cameras only)
key_frame_mask     (B, P) bool       poses whose 2D is an input (all True without input strides)
input_stride       (B,) int64        s_in of the window (``output_stride`` without input strides)
in_view            (B, P) bool       pose lies inside the view (False: padding)
valid              (B, P) bool       the store's ``valid`` flag and ``in_view``
view_id            (B,) int64        the window's view
centre_frame       (B,) int64        view-relative frame of the centre pose
source             (B,) int64        which dataset of a ``WindowMixture`` (0 for ``PoseWindows``)
=================  ================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import DataLoader, Dataset

from datasets.skeletons import get_skeleton
from datasets.store import PoseStore
from datasets.windows.config import WindowConfig
from datasets.windows.frames import ArrayFrames, open_frames
from datasets.windows.sampling import (
    WindowBatchSampler,
    counter_uniform,
    key_frame_masks,
    window_frames,
    window_layout,
)
from datasets.windows.yaw_augmentation import VirtualCameras

STREAM_INPUT_STRIDE, STREAM_KEY_FRAME_SHIFT, STREAM_CAMERA_YAW = 1, 2, 3
"""``counter_uniform`` streams of the per-window random choices."""

WindowKey = tuple[int, int] | int


def _split_keys(keys: Sequence[WindowKey]) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, indices)`` int64 arrays from ``(epoch, index)`` keys (a bare int means epoch 0)."""
    pairs = [(0, key) if isinstance(key, int | np.integer) else key for key in keys]
    array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return array[:, 0], array[:, 1]


class PoseWindows(Dataset):
    """Windows of the views of some splits of one pose store.

    Args:
        store: The pose store.
        config: Window length, strides, sampling, padding, loading.
        splits: Views whose ``split`` is one of these.
        seed: Seed of the per-window random choices.
        view_ids: Only these views (None: every view of the splits).

    Example::

        windows = PoseWindows(store, WindowConfig(frames=243, sampling="clips"), splits=("train",))
        batch = windows.__getitems__([(0, 0), (0, 1)])    # batch["keypoints"]: (2, 243, 17, 2)
    """

    def __init__(
        self,
        store: PoseStore,
        config: WindowConfig,
        splits: Sequence[str] = ("train",),
        seed: int = 0,
        view_ids: Sequence[int] | None = None,
    ) -> None:
        self.config, self.seed, self.splits = config, seed, tuple(splits)
        self.skeleton = get_skeleton(store.skeleton)
        self.joint_names = store.joint_names
        self.store_directory = store.directory
        index = store.index
        wanted = pa.array(list(self.splits), type=pa.string())
        chosen = pc.is_in(index["split"], value_set=wanted).to_numpy(zero_copy_only=False)
        if view_ids is not None:
            chosen &= np.isin(index["view_id"].to_numpy(), np.asarray(view_ids, dtype=np.int64))
        chosen &= index["length"].to_numpy() > 0
        self.rows = np.flatnonzero(chosen)
        if not len(self.rows):
            present = sorted(set(index["split"].to_pylist()))
            raise ValueError(
                f"Store {store.directory} has no views in splits {list(self.splits)}"
                f"{' among the requested view ids' if view_ids is not None else ''}; its splits are {present}."
            )
        if config.virtual_cameras is not None and config.keypoints != "keypoints_2d":
            raise ValueError(
                f"virtual_cameras re-project the 3D joints, which contradicts keypoints={config.keypoints!r} "
                "(a detector's 2D); use keypoints='keypoints_2d' or no virtual cameras"
            )
        self._lay_out(index["start"].to_numpy(), index["length"].to_numpy(), index["view_id"].to_numpy())
        self.frames = open_frames(store, config, self.skeleton.root)
        self.virtual_cameras = VirtualCameras(index, config.virtual_cameras) if config.virtual_cameras else None

    def _lay_out(self, starts: np.ndarray, lengths: np.ndarray, view_ids: np.ndarray) -> None:
        """Per-view starts (V,), lengths (V,) and ids (V,) of the frames, and the windows of ``self.rows``."""
        self.view_starts, self.view_lengths, self.view_ids = starts, lengths, view_ids
        self.counts, self.first_centres, self.interval = window_layout(self.view_lengths[self.rows], self.config)
        self.cumulative = np.cumsum(self.counts)

    @classmethod
    def over_sequences(
        cls,
        keypoints: Sequence[np.ndarray],
        image_sizes: Sequence[tuple[int, int]],
        skeleton: str,
        config: WindowConfig,
        name: str = "keypoints in memory",
    ) -> PoseWindows:
        """Windows over 2D sequences held in memory (a detector's keypoints), cut and normalised as from a store.

        Each sequence is one view (row ``i`` of ``gather_at``); its frames are screen-normalised with its image
        size exactly as ``MemoryFrames`` normalises a store's (``ArrayFrames.from_pixels``). There is no 3D:
        ``joints_3d`` reads zeros.

        Args:
            keypoints: Per sequence, (T_i, J, 2 or 3) pixels (a confidence channel is dropped).
            image_sizes: Per sequence, (width, height) in pixels.
            skeleton: ``datasets.skeletons`` name of the joint order.
            config: The windows (no virtual cameras: they re-project 3D that is not there).
            name: What ``describe`` calls the source.
        """
        if config.virtual_cameras is not None:
            raise ValueError("virtual_cameras need 3D joints; windows over 2D sequences take virtual_cameras=None")
        if len(keypoints) != len(image_sizes) or not len(keypoints):
            raise ValueError(
                f"need one image size per sequence, got {len(keypoints)} sequences, {len(image_sizes)} sizes"
            )
        windows = cls.__new__(cls)
        windows.config, windows.seed, windows.splits = config, 0, ()
        windows.skeleton = get_skeleton(skeleton)
        windows.joint_names = windows.skeleton.joint_names
        windows.store_directory = name
        lengths = np.array([len(sequence) for sequence in keypoints], dtype=np.int64)
        if (lengths == 0).any():
            raise ValueError(f"every sequence needs at least one frame; lengths {lengths.tolist()}")
        windows.rows = np.arange(len(lengths))
        windows._lay_out(np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths, np.arange(len(lengths)))
        sizes = np.repeat(np.asarray(image_sizes, dtype=np.int64).reshape(-1, 2), lengths, axis=0)  # (F, 2)
        windows.frames = ArrayFrames.from_pixels(np.concatenate(keypoints), sizes[:, 0], sizes[:, 1])
        windows.virtual_cameras = None
        return windows

    @property
    def flip_permutation(self) -> np.ndarray:
        """(J,) left/right swap of the store's skeleton."""
        return self.skeleton.flip_permutation

    def __len__(self) -> int:
        return int(self.cumulative[-1])

    def describe(self) -> str:
        """One line for logs: windows, views, splits and where frames come from."""
        return (
            f"{len(self)} windows of {self.config.frames} frames ({self.config.tokens} poses) from {len(self.rows)} "
            f"views of {self.store_directory} (splits {', '.join(self.splits)}); frames from {self.frames.describe()}"
        )

    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index rows (B,) and view-relative centre frames (B,) of windows."""
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"window indices must lie in [0, {len(self)}), got {indices.min()}..{indices.max()}")
        slot = np.searchsorted(self.cumulative, indices, side="right")
        within = indices - (self.cumulative[slot] - self.counts[slot])
        return self.rows[slot], self.first_centres[slot] + within * self.interval

    def gather(self, indices: np.ndarray, epochs: np.ndarray | int = 0, counters: np.ndarray | None = None) -> dict:
        """A batch of windows (module docstring).

        Args:
            indices: (B,) window indices.
            epochs: (B,) or scalar epoch of each window.
            counters: (B,) numbers keying the random choices (default: ``indices``).

        Returns:
            The batch dict of numpy arrays.
        """
        counters = np.asarray(indices if counters is None else counters, dtype=np.int64)
        rows, centres = self.locate(indices)
        return self.gather_at(rows, centres, epochs, counters)

    def gather_at(
        self, rows: np.ndarray, centres: np.ndarray, epochs: np.ndarray | int = 0, counters: np.ndarray | None = None
    ) -> dict:
        """A batch of windows at explicit places (evaluation's layouts: ``sampling.covering_centres``, ...).

        Args:
            rows: (B,) index rows of the windows' views (among ``self.rows``).
            centres: (B,) view-relative centre frames (may lie outside the view: padded).
            epochs: (B,) or scalar epoch of each window.
            counters: (B,) numbers keying the random choices (default: ``arange(B)``).

        Returns:
            The batch dict of numpy arrays.
        """
        config = self.config
        rows, centres = np.asarray(rows, dtype=np.int64), np.asarray(centres, dtype=np.int64)
        counters = np.arange(len(rows), dtype=np.int64) if counters is None else np.asarray(counters, np.int64)
        frames = window_frames(centres, config)  # (B, P) view-relative, may leave the view
        lengths = self.view_lengths[rows][:, None]
        in_view = (frames >= 0) & (frames < lengths)
        positions = self.view_starts[rows][:, None] + np.clip(frames, 0, lengths - 1)
        batch = self.frames.gather(positions, rows, config.include_root or self.virtual_cameras is not None)
        if self.virtual_cameras is not None:
            yaw = counter_uniform(self.seed, epochs, counters, STREAM_CAMERA_YAW)
            self.virtual_cameras.apply(batch, rows, yaw)
        if config.padding == "zero":
            batch["keypoints"][~in_view] = 0.0
        if config.has_key_frames:
            choices = np.asarray(config.input_strides, dtype=np.int64)
            pick = counter_uniform(self.seed, epochs, counters, STREAM_INPUT_STRIDE)
            strides = choices[np.minimum((pick * len(choices)).astype(np.int64), len(choices) - 1)]
            shifts = None
            if config.random_key_frame_shift:
                gap = strides // config.output_stride
                phase = counter_uniform(self.seed, epochs, counters, STREAM_KEY_FRAME_SHIFT)
                shifts = np.minimum((phase * gap).astype(np.int64), gap - 1) - gap // 2
            mask = key_frame_masks(frames, strides, config, shifts)
            batch["keypoints"][~mask] = 0.0
        else:
            strides = np.full(len(rows), config.output_stride, dtype=np.int64)
            mask = np.ones(frames.shape, dtype=bool)
        batch.update(
            key_frame_mask=mask,
            input_stride=strides,
            in_view=in_view,
            valid=batch["valid"] & in_view,
            view_id=self.view_ids[rows].astype(np.int64),
            centre_frame=centres,
            source=np.zeros(len(rows), dtype=np.int64),
        )
        return batch

    def __getitems__(self, keys: Sequence[WindowKey]) -> dict[str, np.ndarray]:
        """A batch of windows from ``(epoch, index)`` keys (what ``WindowBatchSampler`` yields)."""
        epochs, indices = _split_keys(keys)
        return self.gather(indices, epochs)

    def __getitem__(self, key: WindowKey) -> dict[str, np.ndarray]:
        """One window: the batch entries without the batch axis."""
        return {name: value[0] for name, value in self.__getitems__([key]).items()}


class WindowMixture(Dataset):
    """Several window datasets behind one index (e.g. AMASS + Human3.6M), weighted by the sampler.

    Global index ``offsets[d] + local`` addresses window ``local`` of dataset ``d``. All datasets must cut
    windows of the same shape from stores of the same skeleton.

    Args:
        datasets: The window datasets.
    """

    def __init__(self, datasets: Sequence[PoseWindows]) -> None:
        if not datasets:
            raise ValueError("WindowMixture needs at least one dataset")
        first = datasets[0]
        for dataset in datasets[1:]:
            if dataset.skeleton.name != first.skeleton.name or dataset.config.tokens != first.config.tokens:
                raise ValueError(
                    f"mixed datasets must share skeleton and window shape: {dataset.skeleton.name} with "
                    f"{dataset.config.tokens} poses vs {first.skeleton.name} with {first.config.tokens}"
                )
        self.datasets = list(datasets)
        self.sizes = np.array([len(dataset) for dataset in datasets], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])

    @property
    def flip_permutation(self) -> np.ndarray:
        """(J,) left/right swap of the shared skeleton."""
        return self.datasets[0].flip_permutation

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def describe(self) -> str:
        """One line per dataset."""
        return "\n".join(f"[{number}] {dataset.describe()}" for number, dataset in enumerate(self.datasets))

    def __getitems__(self, keys: Sequence[WindowKey]) -> dict[str, np.ndarray]:
        """A batch from global ``(epoch, index)`` keys, in key order, with ``source`` set."""
        epochs, indices = _split_keys(keys)
        sources = np.searchsorted(self.offsets, indices, side="right") - 1
        parts, order = [], []
        for source in np.unique(sources):
            chosen = np.flatnonzero(sources == source)
            part = self.datasets[source].gather(indices[chosen] - self.offsets[source], epochs[chosen], indices[chosen])
            part["source"][:] = source
            parts.append(part)
            order.append(chosen)
        inverse = np.argsort(np.concatenate(order), kind="stable")
        return {key: np.concatenate([part[key] for part in parts])[inverse] for key in parts[0]}

    def __getitem__(self, key: WindowKey) -> dict[str, np.ndarray]:
        """One window without the batch axis."""
        return {name: value[0] for name, value in self.__getitems__([key]).items()}


def windows_collate(batch: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """A gathered batch (dict of numpy arrays) as tensors sharing the arrays' memory."""
    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in batch.items()}


def make_window_loader(
    dataset: PoseWindows | WindowMixture,
    sampler: WindowBatchSampler,
    num_workers: int = 0,
    pin_memory: bool = False,
    prefetch_factor: int = 4,
) -> DataLoader:
    """A DataLoader yielding whole gathered batches of tensors.

    Worker processes are spawned, never forked: training runs inside Prefect flows whose threads (and
    Icechunk's) do not survive ``fork``. Frames in RAM reach the workers as shared memory (no copy); frames
    read from Zarr chunks reopen the store in each worker. The loader draws no numbers from torch's global
    generator, so creating it does not disturb a seeded training run.

    Args:
        dataset: Windows (single store or mixture).
        sampler: Batches of keys (``set_epoch`` before iterating).
        num_workers: Worker processes (0: load in the calling process).
        pin_memory: Page-lock batches for faster, asynchronous host-to-GPU copies.
        prefetch_factor: Batches each worker prepares ahead.

    Returns:
        The DataLoader.
    """
    context = "spawn" if num_workers > 0 else None
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=windows_collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        multiprocessing_context=context,
        prefetch_factor=prefetch_factor if num_workers > 0 else None,
        generator=torch.Generator(),
    )
