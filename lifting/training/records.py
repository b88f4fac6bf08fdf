"""Run records: ``metrics.jsonl`` (one JSON object per step and per epoch) and TensorBoard event files.

Every line of ``metrics.jsonl`` has ``kind`` (``"step"`` or ``"epoch"``), ``epoch`` and ``step``, then the
values: losses in metres (MPJPE parts) and the learning rate per step; the mean training loss and the
validation MPJPE (metres) per epoch. A resumed run first drops the lines written after its checkpoint, so the
file reads as if the run had never stopped. TensorBoard events are purged past the resumed step likewise.

Step metrics stay on the device until ``PendingSteps.flush`` reads them all with one host synchronisation
(``TrainingConfig.log_every_steps``): a ``float()`` per value and step would make the host wait for every
step, so it could never queue the next one while the device works.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from lifting.training.checkpoint import METRICS_FILE, TENSORBOARD_DIRECTORY, TrainingProgress


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a ``metrics.jsonl`` file (a directory means its ``metrics.jsonl``); [] if absent."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _kept_after_resume(record: Mapping[str, Any], progress: TrainingProgress) -> bool:
    if record.get("kind") == "epoch":
        return record["epoch"] < progress.epoch
    return record["step"] <= progress.global_step


class RunRecords:
    """Writes the records of one process (the main one; others get ``enabled=False``).

    Args:
        output_dir: The run's output directory.
        enabled: Write anything at all.
        resumed_from: Progress of the checkpoint a resumed run starts from (None: a fresh run, the file is
            started anew).
        tensorboard: Also write TensorBoard events.
    """

    def __init__(
        self, output_dir: Path, enabled: bool, resumed_from: TrainingProgress | None, tensorboard: bool = True
    ) -> None:
        self.enabled = enabled
        self.path = Path(output_dir) / METRICS_FILE
        self.writer = None
        if not enabled:
            return
        kept = []
        if resumed_from is not None:
            kept = [record for record in read_metrics(self.path) if _kept_after_resume(record, resumed_from)]
        self.path.write_text("".join(json.dumps(record) + "\n" for record in kept))
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resumed_from is None else resumed_from.global_step + 1
            self.writer = SummaryWriter(str(Path(output_dir) / TENSORBOARD_DIRECTORY), purge_step=purge)

    def write(self, kind: str, epoch: int, step: int, values: Mapping[str, float | None]) -> None:
        """Append one record and mirror its numbers to TensorBoard (``<kind>/<name>`` at ``step``)."""
        self.write_many(kind, [(epoch, step, values)])

    def write_many(self, kind: str, rows: list[tuple[int, int, Mapping[str, float | None]]]) -> None:
        """Append ``(epoch, step, values)`` records of one kind in one file write; TensorBoard as ``write``."""
        if not self.enabled or not rows:
            return
        with self.path.open("a") as stream:
            stream.write("".join(json.dumps({"kind": kind, "epoch": e, "step": s, **v}) + "\n" for e, s, v in rows))
        if self.writer is not None:
            for _, step, values in rows:
                for name, value in values.items():
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        self.writer.add_scalar(f"{kind}/{name}", value, step)

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class PendingSteps:
    """Step metrics held on the device, written as ``"step"`` records in groups (one host sync per group).

    Args:
        records: Where the records go.
        windows_per_step: Windows per optimiser step (``TrainingConfig.batch_size``), for ``windows_per_s``.
    """

    def __init__(self, records: RunRecords, windows_per_step: int) -> None:
        self.records, self.windows_per_step = records, windows_per_step
        self.pending: list[tuple[int, int, Mapping[str, torch.Tensor | float], float]] = []
        self.started = time.perf_counter()

    def restart_clock(self) -> None:
        """Time the next group from now (e.g. when a new epoch's loader starts)."""
        self.started = time.perf_counter()

    def add(self, epoch: int, step: int, metrics: Mapping[str, torch.Tensor | float], learning_rate: float) -> None:
        """Hold one step's metrics (0-d tensors, read later, or plain numbers)."""
        self.pending.append((epoch, step, metrics, learning_rate))

    def flush(self) -> list[dict[str, float]]:
        """Read every held metric at once, write one record per step, and return their values in step order.

        ``windows_per_s`` of each record is the rate over the whole group: the windows of its steps over the
        time since the previous flush (or ``restart_clock``), measured after the device finished them.
        """
        if not self.pending:
            return []
        tensors = [value for _, _, metrics, _ in self.pending for value in metrics.values() if torch.is_tensor(value)]
        host = iter(torch.stack([value.float() for value in tensors]).tolist() if tensors else [])
        now = time.perf_counter()
        rate = len(self.pending) * self.windows_per_step / max(now - self.started, 1e-9)
        self.started = now
        rows = []
        for epoch, step, metrics, learning_rate in self.pending:
            values = {name: next(host) if torch.is_tensor(value) else value for name, value in metrics.items()}
            rows.append((epoch, step, {**values, "lr": learning_rate, "windows_per_s": rate}))
        self.pending = []
        self.records.write_many("step", rows)
        return [values for _, _, values in rows]
