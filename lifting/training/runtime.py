"""Process-level guards of a training run: signal handling and numerics settings, both undone on exit."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import torch

from lifting.training.config import TrainingConfig


class StopRequests:
    """Turns SIGTERM/SIGINT into a flag checked after every step (a second SIGINT interrupts at once)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, number: int, frame: Any) -> None:
        if self.received is not None and number == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = number

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def numerics(device: torch.device, config: TrainingConfig) -> Iterator[None]:
    """TF32 matmuls on CUDA if configured, and the caller's generators restored afterwards."""
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    previous = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    try:
        with torch.random.fork_rng(devices=cuda_devices):
            if device.type == "cuda" and config.tf32:
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
