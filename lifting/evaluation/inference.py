"""Inference over whole views: sliding-window centre prediction or seq2seq, with flip test-time augmentation.

- ``"centre"`` (Uplift-and-Upsample, Strided Transformer): one window per output frame, the model's centre
  pose kept. With ``s_out > 1`` windows are centred on the frames ``0, s_out, 2 s_out, ...`` (up to the first
  multiple at or past the last frame, padded) and the frames between are linearly interpolated in time
  (Uplift-and-Upsample Sec. 4.4, "bilinear" upsampling to the full frame rate). Key-frames are the frames
  whose index is a multiple of ``s_in``, counted from the view's frame 0.
- ``"seq2seq"`` (MixSTE): windows of ``N`` frames every ``hop`` frames (``hop = N``: tiles, the last one
  aligned to the view's end, as MixSTE's evaluation); frames covered by several windows get the mean of
  their predictions; a view shorter than ``N`` is padded at its end.
- Flip test-time augmentation: the mean of the prediction and the un-flipped prediction of the flipped input.

Shape legend: ``T`` frames of the view, ``W`` windows, ``P`` poses per window, ``J`` joints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from datasets.windows import flip_poses
from lifting.training.models import forward_windows
from lifting.training.step import autocast_context

InferenceMode = Literal["centre", "seq2seq"]


@dataclass(frozen=True)
class InferencePlan:
    """How to run a model over a view (resolved from a checkpoint and an ``EvaluationConfig``).

    Attributes:
        mode: ``"centre"`` or ``"seq2seq"``.
        frames: Window length ``N`` in frames.
        output_stride: ``s_out``: frames between the poses of a window.
        input_stride: ``s_in``: key-frame stride (``s_out`` when every pose is an input).
        hop: Frames between seq2seq windows.
        padding: ``"edge"`` or ``"zero"`` outside the view.
        flip_test: Average with the flipped input's un-flipped prediction.
        batch_size: Windows per forward pass.
        bf16: Autocast the forward pass to bf16.
    """

    mode: InferenceMode
    frames: int
    output_stride: int = 1
    input_stride: int = 1
    hop: int = 1
    padding: Literal["edge", "zero"] = "edge"
    flip_test: bool = True
    batch_size: int = 256
    bf16: bool = False

    def __post_init__(self) -> None:
        """Validate the plan; each message names the rule and the value."""
        if self.mode not in ("centre", "seq2seq"):
            raise ValueError(f"mode must be 'centre' or 'seq2seq', got {self.mode!r}")
        if (self.frames - 1) % self.output_stride or self.input_stride % self.output_stride:
            raise ValueError(
                f"frames - 1 and input_stride must be multiples of output_stride; got frames={self.frames}, "
                f"input_stride={self.input_stride}, output_stride={self.output_stride}"
            )
        if self.mode == "seq2seq" and (self.output_stride != 1 or not 1 <= self.hop <= self.frames):
            raise ValueError(
                f"seq2seq needs output_stride=1 and 1 <= hop <= frames; got output_stride={self.output_stride}, "
                f"hop={self.hop}, frames={self.frames}"
            )

    @property
    def tokens(self) -> int:
        """Poses per window."""
        return (self.frames - 1) // self.output_stride + 1


def _window_inputs(keypoints: np.ndarray, frames: np.ndarray, plan: InferencePlan) -> dict[str, np.ndarray]:
    """2D inputs and key-frame masks of windows at view-relative ``frames`` (W, P)."""
    length = len(keypoints)
    inputs = keypoints[np.clip(frames, 0, length - 1)]  # (W, P, J, 2)
    if plan.padding == "zero":
        inputs[(frames < 0) | (frames >= length)] = 0.0
    mask = np.remainder(frames, plan.input_stride) == 0
    inputs[~mask] = 0.0
    return {"keypoints": inputs, "key_frame_mask": mask}


@torch.no_grad()
def _forward(
    model: nn.Module,
    inputs: dict[str, np.ndarray],
    plan: InferencePlan,
    flip_permutation: np.ndarray,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequence (W, P, J, 3) and centre (W, J, 3) predictions, flip-averaged if planned, in float32 numpy."""
    sequences, centres = [], []
    for first in range(0, len(inputs["keypoints"]), plan.batch_size):
        chunk = {
            key: torch.from_numpy(value[first : first + plan.batch_size]).to(device) for key, value in inputs.items()
        }
        with autocast_context(device, plan.bf16):
            output = forward_windows(model, chunk)
            sequence, centre = output.sequence.float(), output.centre.float()
            if plan.flip_test:
                flipped = forward_windows(
                    model, {**chunk, "keypoints": flip_poses(chunk["keypoints"], flip_permutation)}
                )
                sequence = (sequence + flip_poses(flipped.sequence.float(), flip_permutation)) / 2
                centre = (centre + flip_poses(flipped.centre.float(), flip_permutation)) / 2
        sequences.append(sequence.cpu().numpy())
        centres.append(centre.cpu().numpy())
    return np.concatenate(sequences), np.concatenate(centres)


def centre_frames(length: int, output_stride: int) -> np.ndarray:
    """Window centres of ``"centre"`` inference: ``0, s_out, ...`` up to the first multiple >= ``length - 1``."""
    last = -(-(length - 1) // output_stride) * output_stride
    return np.arange(0, last + 1, output_stride, dtype=np.int64)


def seq2seq_starts(length: int, frames: int, hop: int) -> np.ndarray:
    """First frames of seq2seq windows: every ``hop`` frames, the last window ending at the view's last frame."""
    if length <= frames:
        return np.zeros(1, dtype=np.int64)
    starts = list(range(0, length - frames + 1, hop))
    if starts[-1] != length - frames:
        starts.append(length - frames)
    return np.asarray(starts, dtype=np.int64)


def interpolate_in_time(anchors: np.ndarray, poses: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of poses known at ascending ``anchors`` frames onto frames ``0 .. length - 1``.

    Args:
        anchors: (A,) frames, covering ``[0, length - 1]``.
        poses: (A, J, 3).
        length: Frames wanted.

    Returns:
        (length, J, 3) float32.
    """
    frames = np.arange(length)
    right = np.clip(np.searchsorted(anchors, frames, side="left"), 1, max(len(anchors) - 1, 1))
    left = right - 1
    if len(anchors) == 1:
        return np.repeat(poses[:1], length, axis=0).astype(np.float32)
    weight = ((frames - anchors[left]) / (anchors[right] - anchors[left]))[:, None, None]
    return ((1 - weight) * poses[left] + weight * poses[right]).astype(np.float32)


def predict_view(
    model: nn.Module,
    keypoints: np.ndarray,
    plan: InferencePlan,
    flip_permutation: np.ndarray,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Root-relative 3D poses of every frame of one view.

    Args:
        model: A ``lifting.models`` model in eval mode on ``device``.
        keypoints: (T, J, 2) float32 screen-normalised 2D (``datasets.cameras.pixels_to_normalized``).
        plan: Mode, window, strides, padding, flip.
        flip_permutation: (J,) left/right swap of the skeleton.
        device: Where the model is.

    Returns:
        (T, J, 3) float32, metres, camera frame, root-relative as the model predicts.
    """
    device = torch.device(device)
    keypoints = np.ascontiguousarray(keypoints, dtype=np.float32)
    length = len(keypoints)
    offsets = np.arange(plan.tokens, dtype=np.int64)
    if plan.mode == "centre":
        anchors = centre_frames(length, plan.output_stride)
        frames = anchors[:, None] + (offsets - plan.tokens // 2) * plan.output_stride
        _, centres = _forward(model, _window_inputs(keypoints, frames, plan), plan, flip_permutation, device)
        if plan.output_stride == 1:
            return centres[:length]
        return interpolate_in_time(anchors, centres, length)
    starts = seq2seq_starts(length, plan.frames, plan.hop)
    frames = starts[:, None] + offsets
    sequences, _ = _forward(model, _window_inputs(keypoints, frames, plan), plan, flip_permutation, device)
    inside = frames < length
    sums = np.zeros((length, *sequences.shape[2:]), dtype=np.float64)
    np.add.at(sums, frames[inside], sequences[inside])
    counts = np.bincount(frames[inside], minlength=length)
    return (sums / counts[:, None, None]).astype(np.float32)
