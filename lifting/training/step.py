"""One optimisation step: data -> forward -> loss -> backward -> clip -> step -> EMA.

``train_step`` is the whole of what a training iteration does to the model; the loop around it
(``lifting.training.loop``) only feeds batches, sets the schedule, logs and checkpoints. ``batch_updates``
says how many updates a batch gets and with which inputs (one; TMT's two steps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from lifting.models import LiftingOutput, TMTStep, tmt_step
from lifting.training.model_interface import forward_windows, unwrap_model

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
    ground_truth_velocity: bool = False,
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
        ground_truth_velocity: TMT models: feed the ground-truth velocity (step 2) instead of zeros (step 1).

    Returns:
        ``{"loss", <parts>, ["grad_norm"]}`` as detached 0-d tensors on the model's device (metres for MPJPE
        parts). Nothing here waits for the device: read them (``float``) when needed, several steps at once.
    """
    model.train()
    optimizer.zero_grad(set_to_none=True)
    device = batch["keypoints"].device
    with autocast_context(device, bf16):
        output = forward_windows(model, batch, ground_truth_velocity)
    losses = loss_fn(output, batch)
    losses["loss"].backward()
    metrics = {name: value.detach() for name, value in losses.items()}
    if grad_clip_norm is not None:
        metrics["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm).detach()
    optimizer.step()
    if ema is not None:
        ema.update_parameters(unwrap_model(model))
    return metrics


@dataclass(frozen=True)
class Update:
    """One optimiser update of a batch.

    Attributes:
        ground_truth_velocity: Feed the ground-truth 3D velocity (TMT step 2).
        suffix: Appended to the names of this update's metrics (``"_step2"``).
        tmt_step: The TMT step to record as the ``tmt_step`` metric when steps alternate by batch, else None.
    """

    ground_truth_velocity: bool = False
    suffix: str = ""
    tmt_step: float | None = None


def batch_updates(needs_velocity_input: bool, updates_per_batch: int, global_step: int) -> tuple[Update, ...]:
    """The updates one batch gets.

    Args:
        needs_velocity_input: The model config's ``needs_velocity_input`` (TMT).
        updates_per_batch: ``TrainingConfig.tmt_steps_per_batch``: 2 runs step 1 then step 2 on every batch
            (TMT Sec. 4.5), 1 alternates them from batch to batch (``tmt_step``).
        global_step: Batches trained on before this one.

    Returns:
        One plain update for models without a velocity input; TMT's step(s) otherwise.
    """
    if not needs_velocity_input:
        return (Update(),)
    if updates_per_batch == 2:
        return (Update(False), Update(True, "_step2"))
    step = tmt_step(global_step)
    return (Update(step == TMTStep.GROUND_TRUTH_VELOCITY, tmt_step=float(step)),)
