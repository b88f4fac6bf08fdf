"""Run records: ``metrics.jsonl`` (one JSON object per step and per epoch) and TensorBoard event files.

Every line of ``metrics.jsonl`` has ``kind`` (``"step"`` or ``"epoch"``), ``epoch`` and ``step``, then the
values: losses in metres (MPJPE parts) and the learning rate per step; the mean training loss and the
validation MPJPE (metres) per epoch. A resumed run first drops the lines written after its checkpoint, so the
file reads as if the run had never stopped. TensorBoard events are purged past the resumed step likewise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        if not self.enabled:
            return
        record = {"kind": kind, "epoch": epoch, "step": step, **values}
        with self.path.open("a") as stream:
            stream.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for name, value in values.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self.writer.add_scalar(f"{kind}/{name}", value, step)

    def close(self) -> None:
        """Flush and close the TensorBoard writer."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
