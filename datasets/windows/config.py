"""What a window is: ``WindowConfig`` (length, strides, sampling, padding, loading) and ``VirtualCameraConfig``.

A window is a run of ``frames`` consecutive frames of one view, represented by ``tokens`` poses, one every
``output_stride`` frames, around its centre frame. ``PoseWindows`` turns a store and this config into
windows; the models' configs decide the numbers (``lifting.training`` maps each model to its window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from datasets.window_arithmetic import window_tokens

Sampling = Literal["centres", "clips"]
Padding = Literal["edge", "zero"]
KeyFrameAlignment = Literal["centre", "global"]
CacheMode = Literal["auto", "memory", "chunks"]

DEFAULT_MEMORY_LIMIT_BYTES = 8 * 1024**3
"""``cache="auto"`` keeps the frames in RAM when the arrays a window reads take at most this many bytes."""

DEFAULT_CACHE_CHUNKS = 64
"""Decoded Zarr chunks kept per array and per process in ``cache="chunks"`` mode (64 x 4096 frames x 17 x 3
float32 = 53 MB for ``joints_3d``)."""


@dataclass(frozen=True)
class VirtualCameraConfig:
    """New virtual cameras for every window and epoch (AMASS pretraining, Uplift-and-Upsample Sec. 3.3).

    The store's own camera of a view already came from the target dataset's rig. Each window turns it about
    the world's vertical axis through the subject's root at the window's centre frame by a random yaw, so the
    subject stays framed at the same distance and height while the viewpoint changes every epoch. The 3D
    target is the window in the turned camera's frame; the 2D input is its projection through the view's
    intrinsics (and distortion, if ``distort``).

    Attributes:
        yaw_range_degrees: ``(low, high)`` uniform range of the turn, degrees.
        up_axis: World axis that is vertical (2: z-up, the AMASS and Human3.6M worlds).
        distort: Apply the view's lens distortion when projecting (``datasets.cameras.project``).
    """

    yaw_range_degrees: tuple[float, float] = (-180.0, 180.0)
    up_axis: int = 2
    distort: bool = True

    def __post_init__(self) -> None:
        """Validate the ranges; each message names the rule and the value."""
        low, high = self.yaw_range_degrees
        if not -360.0 <= low <= high <= 360.0:
            raise ValueError(
                f"yaw_range_degrees must be (low, high) with -360 <= low <= high <= 360, got {(low, high)}"
            )
        if self.up_axis not in (0, 1, 2):
            raise ValueError(f"up_axis must be 0, 1 or 2 (x, y, z), got {self.up_axis}")


@dataclass(frozen=True)
class WindowConfig:
    """How windows are cut from a pose store.

    Attributes:
        frames: Receptive field ``N`` in frames (Uplift-and-Upsample 351/81, MixSTE ``T`` 243, Strided 351).
        output_stride: ``s_out``: frames between consecutive poses of a window; ``(frames - 1)`` must be a
            multiple of it. ``tokens = (frames - 1) / s_out + 1``.
        input_strides: Uplift-and-Upsample's key-frame strides ``s_in`` (multiples of ``s_out``), one drawn per
            window; the 2D input is zero except at key-frames. Empty: every pose is an input.
        key_frame_alignment: ``"centre"``: the key-frame grid is laid relative to the window's centre (training;
            see ``random_key_frame_shift``); ``"global"``: key-frames are the frames whose index is a multiple of
            ``s_in``, counted from the view's first frame (evaluation protocol, Uplift-and-Upsample Sec. 4.4).
        random_key_frame_shift: With ``"centre"`` alignment, shift the grid by a random whole number of
            output poses in ``[-(k // 2), k - k // 2)``, ``k = s_in / s_out`` (all phases equally likely), so the
            centre is not always a key-frame (released code: shift of up to about half a key-frame gap).
        sampling: ``"centres"``: one window centred on every ``centre_interval``-th frame of every view;
            ``"clips"``: non-overlapping clips of ``frames`` frames tiling each view, the remainder split over
            both ends as padding (MixSTE's stride sampling, interval = T, Sec. 4.1).
        centre_interval: Frames between window centres with ``"centres"`` sampling.
        padding: ``"edge"`` repeats a view's first/last 2D pose outside it; ``"zero"`` feeds zeros (normalised
            coordinates). 3D targets are always edge-padded; ``in_view`` marks the real frames.
        keypoints: Store array of the 2D input, e.g. ``"keypoints_2d"`` (ground truth) or
            ``"keypoints_2d_cpn_ft_h36m_dbb"``; a third (confidence) channel is dropped.
        cache: ``"memory"`` loads the arrays a window reads into RAM once (normalised and root-relative);
            ``"chunks"`` reads Zarr chunks on demand through an LRU cache of decoded chunks per process;
            ``"auto"`` picks memory when those arrays take at most ``memory_limit_bytes``.
        memory_limit_bytes: Threshold of ``"auto"``.
        cache_chunks: LRU capacity of ``"chunks"`` mode, in chunks per array.
        virtual_cameras: Re-project every window through a new random camera (None: the store's cameras).
        include_root: Also return each pose's root joint ``root`` (B, P, 3), metres, camera frame (always
            returned with virtual cameras). Off by default: training needs only root-relative targets, and
            the loader copies fewer bytes.
    """

    frames: int
    output_stride: int = 1
    input_strides: tuple[int, ...] = ()
    key_frame_alignment: KeyFrameAlignment = "centre"
    random_key_frame_shift: bool = False
    sampling: Sampling = "centres"
    centre_interval: int = 1
    padding: Padding = "edge"
    keypoints: str = "keypoints_2d"
    cache: CacheMode = "auto"
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES
    cache_chunks: int = DEFAULT_CACHE_CHUNKS
    virtual_cameras: VirtualCameraConfig | None = None
    include_root: bool = False

    def __post_init__(self) -> None:
        """Validate the combination; each message names the rule and the value."""
        for name in ("frames", "output_stride", "centre_interval", "memory_limit_bytes", "cache_chunks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if (self.frames - 1) % self.output_stride:
            raise ValueError(
                f"frames - 1 must be a multiple of output_stride so poses fall on frames; got frames={self.frames}, "
                f"output_stride={self.output_stride}"
            )
        if any(stride < 1 or stride % self.output_stride for stride in self.input_strides):
            raise ValueError(
                f"input_strides must be positive multiples of output_stride={self.output_stride}, "
                f"got {self.input_strides}"
            )
        choices = {
            "key_frame_alignment": ("centre", "global"),
            "sampling": ("centres", "clips"),
            "padding": ("edge", "zero"),
            "cache": ("auto", "memory", "chunks"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.random_key_frame_shift and self.key_frame_alignment == "global":
            raise ValueError(
                "random_key_frame_shift=True contradicts key_frame_alignment='global' (a global grid is fixed); "
                "choose one"
            )
        if self.sampling == "clips" and self.output_stride != 1:
            raise ValueError(
                f"sampling='clips' (MixSTE seq2seq) needs output_stride=1, got output_stride={self.output_stride}"
            )
        if not self.keypoints.startswith("keypoints_2d"):
            raise ValueError(f"keypoints must name a 2D array of the store (keypoints_2d...), got {self.keypoints!r}")

    @property
    def tokens(self) -> int:
        """Poses per window (``datasets.window_arithmetic.window_tokens``)."""
        return window_tokens(self.frames, self.output_stride)

    @property
    def has_key_frames(self) -> bool:
        """Whether windows carry a key-frame mask that hides some 2D inputs."""
        return bool(self.input_strides)
