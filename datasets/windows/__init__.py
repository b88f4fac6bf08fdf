"""Torch datasets of windows over pose stores: what the trainers and the evaluation read.

    >>> from datasets.windows import WindowConfig
    >>> WindowConfig(frames=351, output_stride=5, input_strides=(5, 10, 20)).tokens
    71

Typical training use::

    from datasets.store import open_store
    from datasets.windows import (PoseWindows, WindowBatchSampler, WindowConfig, append_flipped,
                                  make_window_loader)

    windows = PoseWindows(open_store("workspace", "preprocess-h36m"), WindowConfig(frames=243, sampling="clips"))
    sampler = WindowBatchSampler([len(windows)], batch_size=512, seed=0)
    for batch in make_window_loader(windows, sampler, num_workers=4, pin_memory=True):
        batch = append_flipped({k: v.to(device) for k, v in batch.items()}, windows.flip_permutation)

Frames come from RAM when the arrays a window reads fit in ``WindowConfig.memory_limit_bytes`` (8 GiB by
default; ``cache="auto"``), else from Zarr chunks through a per-process LRU cache; ``describe()`` says which.
The package is split into modules (config, codec, sampling, frames, virtual cameras, flip, dataset) to keep each
small; import everything from here.
"""

from datasets.windows.codec import encode_keypoints, normalise_keypoints, restore_root, root_relative, split_root
from datasets.windows.config import (
    DEFAULT_CACHE_CHUNKS,
    DEFAULT_MEMORY_LIMIT_BYTES,
    VirtualCameraConfig,
    WindowConfig,
)
from datasets.windows.dataset import (
    PoseWindows,
    WindowMixture,
    make_window_loader,
    windows_collate,
)
from datasets.windows.flip import append_flipped, flip_poses, flip_windows
from datasets.windows.frames import ChunkFrames, MemoryFrames, open_frames
from datasets.windows.sampling import (
    WindowBatchSampler,
    counter_uniform,
    covering_centres,
    key_frame_masks,
    tile_centres,
    window_frames,
    window_layout,
)
from datasets.windows.yaw_augmentation import VirtualCameras

__all__ = [
    "DEFAULT_CACHE_CHUNKS",
    "DEFAULT_MEMORY_LIMIT_BYTES",
    "ChunkFrames",
    "MemoryFrames",
    "PoseWindows",
    "VirtualCameraConfig",
    "VirtualCameras",
    "WindowBatchSampler",
    "WindowConfig",
    "WindowMixture",
    "append_flipped",
    "counter_uniform",
    "encode_keypoints",
    "covering_centres",
    "flip_poses",
    "flip_windows",
    "key_frame_masks",
    "make_window_loader",
    "normalise_keypoints",
    "open_frames",
    "restore_root",
    "root_relative",
    "split_root",
    "tile_centres",
    "window_frames",
    "window_layout",
    "windows_collate",
]
