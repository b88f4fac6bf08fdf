"""Lifting a detector's 2D keypoints to 3D with a trained checkpoint, through evaluation's own inference path.

A sequence of ``T`` frames at the input's rate is

1. resampled to the rate the checkpoint was trained at (``datasets.resample``, the project's one linear
   interpolation in time), so the model sees motion at the speed it learned;
2. windowed and screen-normalised exactly as evaluation reads a test view: ``PoseWindows.over_sequences``
   (the same ``gather_at``, padding, key-frame masks and ``normalise_keypoints`` as a store's windows) and
   ``lifting.evaluation.inference.predict_view`` (the same centre / seq2seq layouts, flip test and batched
   forward pass, ``InferencePlan.batch_size`` windows at a time: memory is bounded by one batch, whatever
   ``T``);
3. re-centred on the root joint (the models predict root-relative poses only approximately; the metrics
   re-centre the same way) and resampled back to the input's own frame times (frames after the last
   model-rate frame hold it, as the interpolation holds a sequence's last frame).

    lifter = load_lifter(Path("checkpoint_best.pt"), fps=50.0)
    poses_3d = lift_keypoints(lifter, keypoints, fps=30.0, image_size=(1920, 1080))   # (T, 17, 3) metres

Shape legend: ``T`` input frames, ``T'`` frames at the model's rate, ``J`` joints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from datasets.resample import resample
from datasets.skeletons import get_skeleton
from datasets.windows import PoseWindows, root_relative
from lifting.evaluation.config import EvaluationConfig
from lifting.evaluation.evaluate import inference_plan
from lifting.evaluation.inference import InferencePlan, predict_view
from lifting.training.checkpoint import load_model
from lifting.training.distributed import resolve_device

PROGRESS_FROM_FRAMES = 2000
"""Inputs at least this long (at the model's rate) show a progress bar over their batches of windows."""


@dataclass(frozen=True)
class Lifter:
    """A model ready to lift, and how it reads windows.

    Attributes:
        model: A ``lifting.models`` model in eval mode on ``device``.
        plan: Evaluation's inference plan of the checkpoint (window, mode, flip test, batch size).
        fps: Frame rate the checkpoint was trained at, Hz (its training data's).
        skeleton: ``datasets.skeletons`` name of the model's joint order.
        device: Where the model runs.
    """

    model: nn.Module
    plan: InferencePlan
    fps: float
    skeleton: str
    device: torch.device

    def __post_init__(self) -> None:
        """Refuse a rate that is not a positive finite number (the message names it)."""
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise ValueError(f"the checkpoint's training frame rate must be positive and finite, got {self.fps}")


def load_lifter(checkpoint: Path, fps: float, device: str = "auto", config: EvaluationConfig | None = None) -> Lifter:
    """A checkpoint's model with the inference plan ``evaluate`` would use for it.

    Args:
        checkpoint: A ``checkpoint_*.pt`` written by ``lifting.training.train``.
        fps: Frame rate of the data it was trained on, Hz.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        config: Inference options (mode, flip test, batch size, precision); default ``EvaluationConfig()``,
            evaluation's own defaults.
    """
    config = config or EvaluationConfig()
    model, info = load_model(checkpoint, config.weights)
    target = resolve_device(device)
    return Lifter(model.to(target).eval(), inference_plan(info, config, target), float(fps), info.skeleton, target)


def lift_keypoints(
    lifter: Lifter,
    keypoints: np.ndarray,
    fps: float,
    image_size: tuple[int, int],
    progress: bool | None = None,
) -> np.ndarray:
    """3D poses of one person's 2D keypoint sequence, at the input's own frame times.

    Args:
        lifter: The model, its plan and training rate (``load_lifter``).
        keypoints: (T, J, 2 or 3) pixels in the model's joint order (a score channel is ignored).
        fps: The input's frame rate, Hz.
        image_size: (width, height) of the images, pixels: the screen normalisation's scale.
        progress: Show a progress bar; None: for inputs of at least ``PROGRESS_FROM_FRAMES`` frames.

    Returns:
        (T, J, 3) float32, metres, root-relative, camera frame.

    Raises:
        ValueError: an empty input, a non-positive rate or image size, or one too short to give a single frame
            at the model's rate.
    """
    keypoints = np.asarray(keypoints)
    width, height = (int(value) for value in image_size)
    if keypoints.ndim != 3 or keypoints.shape[-1] not in (2, 3) or not len(keypoints):
        raise ValueError(f"keypoints must be (T, J, 2 or 3) with T >= 1, got {keypoints.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width} x {height}")
    frames = len(keypoints)
    pixels = resample(keypoints[..., :2], source_fps=fps, target_fps=lifter.fps).astype(np.float32)  # (T', J, 2)
    if not len(pixels):
        raise ValueError(f"{frames} frame(s) at {fps} Hz last less than one frame at the model's {lifter.fps} Hz")
    windows = PoseWindows.over_sequences([pixels], [(width, height)], lifter.skeleton, lifter.plan.window)
    show = len(pixels) >= PROGRESS_FROM_FRAMES if progress is None else progress
    lifted = predict_view(lifter.model, windows, 0, lifter.plan, lifter.device, progress=show)  # (T', J, 3)
    lifted = root_relative(lifted, get_skeleton(lifter.skeleton).root)  # exactly, as the metrics score it
    back = resample(lifted, source_fps=lifter.fps, target_fps=fps)[:frames]
    if len(back) < frames:  # input frames after the last model-rate frame (at time (T' - 1) / fps_model) hold it
        back = np.concatenate([back, np.repeat(lifted[-1:], frames - len(back), axis=0)])
    return back.astype(np.float32)
