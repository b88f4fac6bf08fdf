"""Validation during training: centre-frame MPJPE over a validation split, fast and deterministic."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import torch
from torch import nn

from datasets.store import PoseStore
from datasets.windows import PoseWindows, WindowConfig, windows_collate
from lifting.losses import mpjpe_loss
from lifting.training.models import forward_windows
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
def validation_mpjpe(
    model: nn.Module,
    windows: PoseWindows,
    device: torch.device,
    bf16: bool = False,
    batch_size: int = VALIDATION_BATCH_SIZE,
) -> float:
    """Mean centre-frame MPJPE of a model over every window of ``windows``.

    The centre pose is the model's centre output (Uplift-and-Upsample's and the Strided Transformer's centre
    heads, MixSTE's middle frame); TMT models run in inference mode (zero velocity). No flip augmentation.

    Args:
        model: The model (set to eval mode here; the caller restores training mode).
        windows: Validation windows.
        device: Where the model is.
        bf16: Autocast the forward pass to bf16.
        batch_size: Windows per forward pass.

    Returns:
        MPJPE in metres (root-relative), averaged over windows.
    """
    model.eval()
    total, count = 0.0, 0
    for first in range(0, len(windows), batch_size):
        indices = np.arange(first, min(first + batch_size, len(windows)))
        batch = {key: value.to(device) for key, value in windows_collate(windows.gather(indices)).items()}
        with autocast_context(device, bf16):
            output = forward_windows(model, batch)
        target = batch["joints_3d"][:, batch["joints_3d"].shape[1] // 2]
        total += float(mpjpe_loss(output.centre.float(), target)) * len(indices)
        count += len(indices)
    return total / count
