"""Devices and multi-GPU: a single process by default, DDP when launched by ``torchrun`` (``WORLD_SIZE`` > 1).

``torchrun --nproc_per_node=N flows.py pretrain ...`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; each
process then trains on its own GPU with its own share of every batch, gradients are averaged by
``DistributedDataParallel``, and only rank 0 writes checkpoints and logs. Without those variables (or with
``WORLD_SIZE=1``) nothing distributed is initialised.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

from lifting.training.config import PRECISIONS


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in a (possibly single-process) run.

    Attributes:
        rank: Global rank (0 in a single process).
        world_size: Number of processes.
        local_rank: Rank on this machine (the GPU index under torchrun).
        device: The device this process trains on.
        initialised_here: Whether ``setup_distributed`` created the process group (and must destroy it).
    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialised_here: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, logs and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether gradients are averaged over several processes."""
        return self.world_size > 1


def resolve_device(request: str, local_rank: int = 0) -> torch.device:
    """The device for ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Under torchrun, ``"cuda"`` and ``"auto"`` mean this process's GPU, ``cuda:LOCAL_RANK``.
    """
    if request == "auto":
        request = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(request)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {request!r} asked for, but this torch build sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"bf16"`` or ``"fp32"``: what ``precision`` (``"auto"``, ``"bf16"``, ``"fp32"``) means on ``device``.

    ``"auto"`` is bf16 autocast on CUDA and fp32 elsewhere. The resolved value changes the numbers a run
    produces, so it (not ``"auto"``) is part of a training or evaluation version's id.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def run_precision(precision: str, device_request: str) -> str:
    """``resolve_precision`` on the device ``device_request`` (as ``resolve_device``) names: what a version hashes."""
    return resolve_precision(precision, resolve_device(device_request))


def setup_distributed(device_request: str = "auto") -> DistributedContext:
    """Join the torchrun process group if launched by torchrun, else describe a single process.

    Args:
        device_request: As ``resolve_device``.

    Returns:
        The context; a single-process one when ``WORLD_SIZE`` is unset or 1, or when torch has no
        distributed support (with a warning).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world_size <= 1:
        return DistributedContext(0, 1, 0, resolve_device(device_request))
    if not dist.is_available():
        warnings.warn(
            f"WORLD_SIZE={world_size} but torch.distributed is unavailable: training in one process", stacklevel=2
        )
        return DistributedContext(0, 1, 0, resolve_device(device_request))
    device = resolve_device(device_request, local_rank)
    initialised_here = False
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        initialised_here = True
    return DistributedContext(dist.get_rank(), dist.get_world_size(), local_rank, device, initialised_here)


def barrier(context: DistributedContext) -> None:
    """Wait for every process (no-op in a single process)."""
    if context.distributed:
        dist.barrier()


ValueT = TypeVar("ValueT")


def broadcast_from_main(context: DistributedContext, value: ValueT) -> ValueT:
    """Rank 0's ``value`` on every rank (``torch.distributed.broadcast_object_list``; pickled, so keep it small).

    Every rank must call it once at the same point (it is a collective); in a single process it returns
    ``value`` as is.
    """
    if not context.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def teardown_distributed(context: DistributedContext) -> None:
    """Destroy the process group if ``setup_distributed`` created it."""
    if context.initialised_here and dist.is_initialized():
        dist.destroy_process_group()
