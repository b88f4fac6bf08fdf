"""One optimisation step: data -> forward -> loss -> backward -> clip -> step -> EMA.

``train_step`` is the whole of what a training iteration does to the model; the loop around it
(``lifting.training.loop``) only feeds batches, sets the schedule, logs and checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from lifting.models import LiftingOutput
from lifting.training.models import forward_windows, unwrap_model

LossFunction = Callable[[LiftingOutput, Mapping[str, torch.Tensor]], dict[str, torch.Tensor]]


def autocast_context(device: torch.device, bf16: bool) -> torch.autocast:
    """bf16 autocast on ``device`` when ``bf16``, a disabled autocast otherwise."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)


def train_step(
    model: nn.Module,
    batch: Mapping[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFunction,
    *,
    bf16: bool = False,
    grad_clip_norm: float | None = None,
    ema: torch.optim.swa_utils.AveragedModel | None = None,
    tmt_velocity: bool = False,
) -> dict[str, torch.Tensor]:
    """Update the model once on a batch of windows.

    Args:
        model: The model (possibly DDP-wrapped or compiled), in training mode after the call.
        batch: Windows on the model's device (``datasets.windows`` batch; flipped half already appended).
        optimizer: The optimiser (learning rate and weight decay already set for the epoch).
        loss_fn: ``(output, batch) -> {"loss": scalar, parts...}`` (``LiftingObjective``).
        bf16: Run the forward pass under bf16 autocast (the loss is computed in float32).
        grad_clip_norm: Clip the global gradient norm to this (None: no clipping).
        ema: Exponential moving average of the weights, updated after the step.
        tmt_velocity: TMT models: feed the ground-truth velocity (step 2) instead of zeros (step 1).

    Returns:
        ``{"loss", <parts>, ["grad_norm"]}`` as detached 0-d tensors on the model's device (metres for MPJPE
        parts). Nothing here waits for the device: read them (``float``) when needed, several steps at once.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    device = batch["keypoints"].device
    with autocast_context(device, bf16):
        output = forward_windows(model, batch, tmt_velocity=tmt_velocity)
    losses = loss_fn(output, batch)
    losses["loss"].backward()
    metrics = {name: value.detach() for name, value in losses.items()}
    if grad_clip_norm is not None:
        metrics["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm).detach()
    optimizer.step()
    if ema is not None:
        ema.update_parameters(unwrap_model(model))
    return metrics
