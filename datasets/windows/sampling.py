"""Index arithmetic of windows: where they lie, which frames they read, and in what order batches visit them.

Everything here is plain numpy on integer arrays, so a whole batch is laid out without a Python loop:

- ``window_layout``: per view, how many windows and the centre of the first (``centre = base + j * interval``).
- ``covering_centres`` / ``tile_centres``: the evaluation layouts (every output frame of a view covered once,
  or tiles of whole windows), read through ``PoseWindows.gather_at``.
- ``window_frames``: the view-relative frame of every pose of every window (may leave the view; clamp later).
- ``key_frame_masks``: Uplift-and-Upsample's key-frame masks, centred (training) or global (evaluation).
- ``counter_uniform``: reproducible random numbers keyed by (seed, epoch, window, stream), the same whether a
  window is loaded alone, in a batch, in a worker process, or after a resume.
- ``WindowBatchSampler``: shuffled (optionally weighted) batches of ``(epoch, index)`` keys, sharded over
  distributed ranks and able to start mid-epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler

from datasets.windows.config import WindowConfig

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_DOUBLE_MANTISSA_SHIFT = np.uint64(11)
_TWO_POW_MINUS_53 = 2.0**-53


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic): a well-mixed hash of each value."""
    with np.errstate(over="ignore"):
        mixed = values + _GOLDEN_GAMMA
        mixed = (mixed ^ (mixed >> np.uint64(30))) * _MIX_1
        mixed = (mixed ^ (mixed >> np.uint64(27))) * _MIX_2
    return mixed ^ (mixed >> np.uint64(31))


def counter_uniform(seed: int, epoch: np.ndarray | int, index: np.ndarray, stream: int) -> np.ndarray:
    """Uniform numbers in [0, 1) that depend only on ``(seed, epoch, index, stream)``.

    Args:
        seed: Run seed.
        epoch: Epoch of each window (broadcast against ``index``).
        index: Window indices, any integer shape.
        stream: Which random quantity (input stride, key-frame shift, camera yaw, ...).

    Returns:
        float64 array shaped like ``index``.
    """
    key = _splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) ^ np.uint64(stream))
    key = _splitmix64(key ^ np.asarray(epoch, dtype=np.int64).astype(np.uint64))
    bits = _splitmix64(key ^ _splitmix64(np.asarray(index, dtype=np.int64).astype(np.uint64)))
    return (bits >> _DOUBLE_MANTISSA_SHIFT).astype(np.float64) * _TWO_POW_MINUS_53


def window_layout(lengths: np.ndarray, config: WindowConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """Windows per view and the centre of each view's first window.

    ``"centres"``: centres ``0, c, 2c, ...`` below the length (``c = centre_interval``). ``"clips"``:
    ``n = ceil(L / T)`` clips of ``T`` frames whose union exceeds the view by ``n T - L`` frames, split over
    both ends (the first clip starts at ``-(n T - L) // 2``); centre = start + ``T // 2``.

    Args:
        lengths: (V,) frames per view.
        config: The window configuration.

    Returns:
        ``(counts (V,) int64, first_centres (V,) int64, interval)``: window ``j`` of view ``v`` is centred on frame
        ``first_centres[v] + j * interval``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if config.sampling == "clips":
        counts = -(-lengths // config.frames)
        starts = -((counts * config.frames - lengths) // 2)
        return counts, starts + config.frames // 2, config.frames
    interval = config.centre_interval
    return -(-lengths // interval), np.zeros_like(lengths), interval


def covering_centres(length: int, output_stride: int) -> np.ndarray:
    """Centres ``0, s_out, 2 s_out, ...`` up to the first multiple at or past the view's last frame.

    The centre-pose evaluation of Uplift-and-Upsample (Sec. 4.4): one window per output pose, so that every
    frame lies between two centres and is interpolated from their poses. The last centre may lie past the view
    (its window is padded). Unlike ``window_layout``'s ``"centres"`` (centres inside the view only), this covers
    the frames after the last in-view multiple of ``s_out``.

    Args:
        length: Frames of the view (>= 1).
        output_stride: ``s_out``.

    Returns:
        (W,) int64 centre frames, ``W = ceil((length - 1) / s_out) + 1``.
    """
    last = -(-(length - 1) // output_stride) * output_stride
    return np.arange(0, last + 1, output_stride, dtype=np.int64)


def tile_centres(length: int, frames: int, hop: int) -> np.ndarray:
    """Centres of whole windows every ``hop`` frames, the last one ending at the view's last frame.

    MixSTE's seq2seq evaluation (hop = N: tiles, the last aligned to the view's end); a view shorter than
    ``frames`` gets one window starting at frame 0, padded at its end. A window starting at ``s`` has its
    centre at ``s + frames // 2`` (``window_frames`` with ``s_out = 1``).

    Args:
        length: Frames of the view (>= 1).
        frames: Window length ``N``.
        hop: Frames between window starts, in ``[1, frames]``.

    Returns:
        (W,) int64 centre frames.
    """
    if length <= frames:
        return np.full(1, frames // 2, dtype=np.int64)
    starts = list(range(0, length - frames + 1, hop))
    if starts[-1] != length - frames:
        starts.append(length - frames)
    return np.asarray(starts, dtype=np.int64) + frames // 2


def window_frames(centres: np.ndarray, config: WindowConfig) -> np.ndarray:
    """View-relative frame index of every pose of every window.

    Args:
        centres: (B,) centre frames.
        config: The window configuration.

    Returns:
        (B, tokens) int64: ``centre + (i - tokens // 2) * s_out``; values may lie outside the view.
    """
    offsets = (np.arange(config.tokens, dtype=np.int64) - config.tokens // 2) * config.output_stride
    return np.asarray(centres, dtype=np.int64)[:, None] + offsets


def key_frame_masks(
    frames: np.ndarray, input_strides: np.ndarray, config: WindowConfig, shifts: np.ndarray | None = None
) -> np.ndarray:
    """Key-frame masks of windows.

    Args:
        frames: (B, tokens) view-relative frames (``window_frames``).
        input_strides: (B,) ``s_in`` of each window.
        config: The window configuration (alignment).
        shifts: (B,) grid shift in output poses for ``"centre"`` alignment (None: 0).

    Returns:
        (B, tokens) bool. ``"global"``: ``frame % s_in == 0``. ``"centre"``: pose ``i`` is a key-frame when
        ``(i - tokens // 2 + shift) % (s_in / s_out) == 0``; the centre pose is one when the shift is 0.
    """
    strides = np.asarray(input_strides, dtype=np.int64)[:, None]
    if config.key_frame_alignment == "global":
        return np.remainder(frames, strides) == 0
    poses_per_gap = strides // config.output_stride
    relative = np.arange(config.tokens, dtype=np.int64) - config.tokens // 2
    if shifts is not None:
        relative = relative + np.asarray(shifts, dtype=np.int64)[:, None]
    return np.remainder(relative, poses_per_gap) == 0


class WindowBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(epoch, index)`` keys over one dataset or a weighted mix of datasets.

    Each epoch draws ``samples_per_epoch`` window indices: with ``weights``, a share ``w_d / sum(w)`` from
    dataset ``d``, walking through fresh permutations of that dataset so that no window repeats before all
    were seen; then all are shuffled together. Without shuffling, indices run in order (validation). The
    order depends only on ``(seed, epoch)``, so ``set_epoch(epoch, start_batch)`` resumes mid-epoch exactly.
    Under DDP each rank takes its contiguous share of every batch.

    Args:
        sizes: Windows of each dataset, in mixture order (global index = offset of dataset + local index).
        batch_size: Windows per batch over all ranks (before in-batch flipping).
        weights: Sampling weight of each dataset; None weighs them by size.
        samples_per_epoch: Windows per epoch; None: the sum of ``sizes``.
        shuffle: Shuffle (training) or keep index order (validation).
        drop_last: Drop a final incomplete batch.
        seed: Run seed.
        rank: This process's rank.
        world_size: Number of processes; must divide ``batch_size``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        batch_size: int,
        *,
        weights: Sequence[float] | None = None,
        samples_per_epoch: int | None = None,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.sizes = np.asarray(sizes, dtype=np.int64)
        if self.sizes.ndim != 1 or not len(self.sizes) or np.any(self.sizes < 1):
            raise ValueError(f"sizes must list at least one dataset, each with windows; got {list(sizes)}")
        if batch_size < 1 or batch_size % world_size:
            raise ValueError(f"batch_size={batch_size} must be positive and divisible by world_size={world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must lie in [0, world_size={world_size}), got {rank}")
        chosen = self.sizes.astype(np.float64) if weights is None else np.asarray(weights, dtype=np.float64)
        if chosen.shape != self.sizes.shape or np.any(chosen < 0) or chosen.sum() <= 0:
            raise ValueError(f"weights must be one non-negative number per dataset, not all 0; got {weights}")
        if weights is not None and not shuffle:
            raise ValueError("weights need shuffle=True: an unshuffled pass visits every window once, in order")
        self.weights = chosen / chosen.sum()
        self.samples_per_epoch = int(self.sizes.sum() if samples_per_epoch is None else samples_per_epoch)
        if self.samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be positive, got {samples_per_epoch}")
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Choose the epoch the next iteration draws, skipping its first ``start_batch`` batches (resume)."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch must lie in [0, {self.batches_per_epoch}], got {start_batch}")
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    @property
    def batches_per_epoch(self) -> int:
        """Batches of a full epoch."""
        full, remainder = divmod(self.samples_per_epoch, self.batch_size)
        return full if self.drop_last or not remainder else full + 1

    def epoch_order(self, epoch: int) -> np.ndarray:
        """(samples_per_epoch,) int64 global window indices of an epoch, in visiting order."""
        if not self.shuffle:
            return np.arange(self.samples_per_epoch, dtype=np.int64) % int(self.sizes.sum())
        rng = np.random.default_rng([self.seed, epoch])
        counts = np.floor(self.weights * self.samples_per_epoch).astype(np.int64)
        shortfall = self.samples_per_epoch - int(counts.sum())  # hand the rounding remainder to the largest shares
        counts[np.argsort(-self.weights, kind="stable")[:shortfall]] += 1
        parts = []
        for size, offset, count in zip(self.sizes, self.offsets, counts, strict=True):
            passes = -(-int(count) // int(size))
            local = np.concatenate([rng.permutation(size) for _ in range(passes)])[:count] if count else []
            parts.append(np.asarray(local, dtype=np.int64) + offset)
        return rng.permutation(np.concatenate(parts))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = self.epoch_order(self.epoch)
        share = self.batch_size // self.world_size
        for batch in range(self.start_batch, self.batches_per_epoch):
            chunk = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            if len(chunk) < self.batch_size:  # only without drop_last: split the remainder over ranks
                share = -(-len(chunk) // self.world_size)
            mine = chunk[self.rank * share : (self.rank + 1) * share]
            yield [(self.epoch, int(index)) for index in mine]

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch
