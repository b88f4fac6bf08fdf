"""Inference over whole views, through the windows of training and validation.

Windows are read with ``datasets.windows.PoseWindows.gather_at`` (the frames, padding, key-frame masks and
screen normalisation the model was trained and validated on) at the centres of an evaluation layout, and the
model runs through validation's forward pass (``lifting.training.validation.predict_windows``):

- ``"centre"`` (Uplift-and-Upsample, Strided Transformer): one window per output pose, centred on the frames
  ``0, s_out, 2 s_out, ...`` up to the first multiple at or past the last frame
  (``datasets.windows.covering_centres``), the model's centre pose kept; with ``s_out > 1`` the frames between
  are linearly interpolated in time (Uplift-and-Upsample Sec. 4.4, "bilinear" upsampling to the full frame
  rate) by ``datasets.resample``, the project's one linear interpolation of per-frame positions (the
  centre poses are a sequence at ``1 / s_out`` of the frame rate). Key-frames are the frames whose index is
  a multiple of ``s_in``, counted from the view's frame 0 (``WindowConfig.key_frame_alignment="global"``).
- ``"seq2seq"`` (MixSTE): windows of ``N`` frames every ``hop`` frames (``hop = N``: tiles, the last one
  aligned to the view's end, as MixSTE's evaluation; ``datasets.windows.tile_centres``); frames covered by
  several windows get the mean of their predictions; a view shorter than ``N`` is padded at its end.
- Flip test-time augmentation: the mean of the prediction and the un-flipped prediction of the flipped input.
- Windows are predicted ``batch_size`` at a time and reduced to per-frame poses batch by batch, so a view
  of any length (a 10-minute video lifted by ``lifting.lift``) never holds all its windows at once.

Shape legend: ``T`` frames of the view, ``W`` windows, ``P`` poses per window, ``J`` joints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from datasets.resample import resample
from datasets.windows import PoseWindows, WindowConfig, covering_centres, tile_centres, window_frames
from lifting.models import LiftingOutput
from lifting.training.validation import predict_windows

InferenceMode = Literal["centre", "seq2seq"]


@dataclass(frozen=True)
class InferencePlan:
    """How to run a model over a view (resolved from a checkpoint and an ``EvaluationConfig``).

    Attributes:
        mode: ``"centre"`` or ``"seq2seq"``.
        window: The windows read: length ``N``, ``s_out``, at most one ``s_in`` with key-frames from frame 0,
            padding, 2D array (``lifting.training.model_interface.window_config_for(..., "evaluation")``).
        hop: Frames between seq2seq windows (None: ``N``, tiles).
        flip_test: Average with the flipped input's un-flipped prediction.
        batch_size: Windows per forward pass.
        bf16: Autocast the forward pass to bf16.
    """

    mode: InferenceMode
    window: WindowConfig
    hop: int | None = None
    flip_test: bool = True
    batch_size: int = 256
    bf16: bool = False

    def __post_init__(self) -> None:
        """Validate the plan; each message names the rule and the value."""
        if self.mode not in ("centre", "seq2seq"):
            raise ValueError(f"mode must be 'centre' or 'seq2seq', got {self.mode!r}")
        window = self.window
        if len(window.input_strides) > 1 or (window.input_strides and window.key_frame_alignment != "global"):
            raise ValueError(
                "inference reads one input stride with key-frames counted from frame 0; got input_strides="
                f"{window.input_strides}, key_frame_alignment={window.key_frame_alignment!r}"
            )
        if self.mode == "seq2seq" and (window.output_stride != 1 or not 1 <= self.seq2seq_hop <= window.frames):
            raise ValueError(
                f"seq2seq needs output_stride=1 and 1 <= hop <= frames; got output_stride={window.output_stride}, "
                f"hop={self.hop}, frames={window.frames}"
            )

    @property
    def seq2seq_hop(self) -> int:
        """Frames between seq2seq windows."""
        return self.window.frames if self.hop is None else self.hop

    @property
    def key_frame_stride(self) -> int:
        """``s_in``: frames ``t % s_in == 0`` carry 2D input (``s_out`` when every pose is an input)."""
        return self.window.input_strides[0] if self.window.input_strides else self.window.output_stride

    def describe(self) -> str:
        """One line for the report, e.g. ``centre, N=21, s_out=5, s_in=10, hop=-, padding edge, flip test True``."""
        window = self.window
        hop = self.seq2seq_hop if self.mode == "seq2seq" else "-"
        return (
            f"{self.mode}, N={window.frames}, s_out={window.output_stride}, s_in={self.key_frame_stride}, "
            f"hop={hop}, padding {window.padding}, flip test {self.flip_test}"
        )


def _predict_batches(
    model: nn.Module,
    windows: PoseWindows,
    row: int,
    centres: np.ndarray,
    plan: InferencePlan,
    device: torch.device,
    progress: bool,
) -> Iterator[tuple[np.ndarray, LiftingOutput]]:
    """``(centres (B,), output)`` per batch of at most ``plan.batch_size`` windows of one view, in order.

    Only one batch of windows ((B, P, J, 2) in, (B, P, J, 3) out) is held at a time, so inference over a
    view of any length needs memory for one batch plus its per-frame results, never (W, P, J).
    """
    flip = windows.flip_permutation if plan.flip_test else None
    starts = range(0, len(centres), plan.batch_size)
    for first in tqdm(starts, desc="windows", unit="batch", disable=not progress, leave=False):
        chunk = centres[first : first + plan.batch_size]
        batch = windows.gather_at(np.full(len(chunk), row), chunk)
        yield chunk, predict_windows(model, batch, device, plan.bf16, flip)


def predict_view(
    model: nn.Module,
    windows: PoseWindows,
    row: int,
    plan: InferencePlan,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """Root-relative 3D poses of every frame of one view.

    Args:
        model: A ``lifting.models`` model in eval mode on ``device``.
        windows: Windows over the view's frames, cut as ``plan.window`` says (``PoseWindows(store, plan.window)``,
            or ``PoseWindows.over_sequences`` for 2D held in memory).
        row: The view's row (an index row of the store; the sequence's position for ``over_sequences``).
        plan: Mode, window, hop, flip, batch size.
        device: Where the model is.
        progress: Show a progress bar over the batches (long inputs).

    Returns:
        (T, J, 3) float32, metres, camera frame, root-relative as the model predicts.
    """
    device = torch.device(device)
    length = int(windows.view_lengths[row])
    if length == 0:
        return np.zeros((0, windows.skeleton.num_joints, 3), np.float32)
    stride = plan.window.output_stride
    if plan.mode == "centre":
        batches = _predict_batches(model, windows, row, covering_centres(length, stride), plan, device, progress)
        centres = np.concatenate([output.centre.cpu().numpy() for _, output in batches])  # (W, J, 3), W ~ T / s_out
        if stride == 1:
            return centres[:length]
        return resample(centres, source_fps=1.0, target_fps=float(stride))[:length].astype(np.float32)
    sums = np.zeros((length, windows.skeleton.num_joints, 3), dtype=np.float64)
    counts = np.zeros(length, dtype=np.int64)
    window_centres = tile_centres(length, plan.window.frames, plan.seq2seq_hop)
    for chunk, output in _predict_batches(model, windows, row, window_centres, plan, device, progress):
        frames = window_frames(chunk, plan.window)  # (B, P), from frame 0, past the end only when padded
        inside = frames < length
        np.add.at(sums, frames[inside], output.sequence.cpu().numpy()[inside])
        counts += np.bincount(frames[inside], minlength=length)
    return (sums / counts[:, None, None]).astype(np.float32)
