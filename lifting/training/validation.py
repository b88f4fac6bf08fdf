"""Validation during training, and the forward pass that evaluation shares with it.

Validation and ``lifting.evaluation`` read windows the same way (``datasets.windows.PoseWindows``: frames,
padding, key-frame masks, screen normalisation) and run the model through the same ``predict_windows``, and
both score with ``lifting.metrics.mpjpe`` (root-relative, valid frames only). So validation's centre-frame
MPJPE equals the evaluation's MPJPE over the same frames under the same options: no flip test, the training
run's padding and 2D array, one input stride (``tests/test_validation_agrees_with_evaluation.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow.compute as pc
import torch
from torch import nn

from datasets.store import PoseStore
from datasets.windows import PoseWindows, WindowConfig, flip_poses, windows_collate
from lifting import metrics
from lifting.models import LiftingOutput
from lifting.training.model_interface import forward_windows
from lifting.training.step import autocast_context

VALIDATION_BATCH_SIZE = 256
"""Windows per validation forward pass."""


def choose_split(store: PoseStore, preferences: tuple[str, ...]) -> str:
    """The first split of ``preferences`` that has views in ``store``; ValueError naming both lists otherwise."""
    present = set(pc.unique(store.index["split"]).to_pylist())
    for split in preferences:
        if split in present:
            return split
    raise ValueError(
        f"validation store {store.directory} has none of the validation splits {list(preferences)}; "
        f"it has {sorted(present)}"
    )


def validation_windows(store: PoseStore, config: WindowConfig, preferences: tuple[str, ...]) -> PoseWindows:
    """Windows of the preferred validation split of ``store`` (key-frames aligned, one input stride)."""
    return PoseWindows(store, config, splits=(choose_split(store, preferences),))


@torch.no_grad()
def predict_windows(
    model: nn.Module,
    batch: Mapping[str, np.ndarray],
    device: torch.device,
    bf16: bool = False,
    flip_permutation: np.ndarray | None = None,
) -> LiftingOutput:
    """A model's predictions for a gathered batch of windows (``PoseWindows.gather`` / ``gather_at``).

    Args:
        model: Any ``lifting.models`` model in eval mode on ``device`` (TMT: zero velocity, inference).
        batch: The windows, numpy arrays (``keypoints`` (B, P, J, 2), ``key_frame_mask`` (B, P), ...).
        device: Where the model is.
        bf16: Autocast the forward pass to bf16.
        flip_permutation: (J,) left/right swap for flip test-time augmentation: the mean of the prediction and
            the un-flipped prediction of the flipped input. None: no flip.

    Returns:
        ``LiftingOutput(sequence (B, P, J, 3), centre (B, J, 3))`` float32 on ``device``, metres, camera frame,
        root-relative as the model predicts.
    """
    tensors = {key: value.to(device) for key, value in windows_collate(batch).items()}
    with autocast_context(device, bf16):
        output = forward_windows(model, tensors)
        sequence, centre = output.sequence.float(), output.centre.float()
        if flip_permutation is not None:
            flipped = forward_windows(
                model, {**tensors, "keypoints": flip_poses(tensors["keypoints"], flip_permutation)}
            )
            sequence = (sequence + flip_poses(flipped.sequence.float(), flip_permutation)) / 2
            centre = (centre + flip_poses(flipped.centre.float(), flip_permutation)) / 2
    return LiftingOutput(sequence=sequence, centre=centre)


def validation_mpjpe(
    model: nn.Module,
    windows: PoseWindows,
    device: torch.device,
    bf16: bool = False,
    batch_size: int = VALIDATION_BATCH_SIZE,
) -> float:
    """Mean centre-frame MPJPE of a model over the windows of ``windows`` whose centre frame is valid.

    The centre pose is the model's centre output (Uplift-and-Upsample's and the Strided Transformer's centre
    heads, MixSTE's middle frame); TMT models run in inference mode (zero velocity). No flip augmentation.
    Each centre pose is scored as the evaluation scores a frame: ``lifting.metrics.mpjpe`` after re-centring
    prediction and target on the skeleton's root; frames the store marks invalid do not count.

    Args:
        model: The model (set to eval mode here; the caller restores training mode).
        windows: Validation windows.
        device: Where the model is.
        bf16: Autocast the forward pass to bf16.
        batch_size: Windows per forward pass.

    Returns:
        MPJPE in metres (root-relative), averaged over valid centre frames (NaN if none is valid).
    """
    model.eval()
    total, count = 0.0, 0
    for first in range(0, len(windows), batch_size):
        batch = windows.gather(np.arange(first, min(first + batch_size, len(windows))))
        centre = predict_windows(model, batch, device, bf16).centre.cpu().numpy()
        middle = batch["joints_3d"].shape[1] // 2
        valid = batch["valid"][:, middle]
        errors = metrics.mpjpe(centre, batch["joints_3d"][:, middle], root=windows.skeleton.root)
        total += float(errors[valid].sum())
        count += int(valid.sum())
    return total / count if count else float("nan")
