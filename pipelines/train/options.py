"""What the training flows train and how they run: one declaration for the flows and the command line.

``pretrain``, ``finetune`` and ``pretrain-finetune`` take ``TrainingOptions`` (as a mapping of its fields)
and ``TrainingRunOptions``; ``python flows.py`` generates their options from the fields below
(``pipelines.cli.options``), and ``evaluate`` takes the run options too. The model and training settings
themselves live in the presets (``presets/models/``, ``presets/training/``) and their config dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingOptions:
    """Which model, presets and budget a training run uses.

    Attributes:
        model: Model: uplift-upsample, mixste, strided, mixste-tmt, strided-tmt.
        preset: Model preset under presets/models/<model>/ (demo: the small one the demo trains).
        training_preset: Training preset under presets/training/ (demo, uplift-upsample-h36m-351, ...).
        epochs: Override the training preset's number of epochs.
        max_steps: Stop after this many optimiser steps (smoke runs).
    """

    model: str = "uplift-upsample"
    preset: str = "demo"
    training_preset: str = "demo"
    epochs: int | None = None
    max_steps: int | None = None

    def training_overrides(self) -> dict[str, int]:
        """The ``TrainingConfig`` fields these options override (those given)."""
        return {name: value for name in ("epochs", "max_steps") if (value := getattr(self, name)) is not None}


@dataclass(frozen=True)
class TrainingRunOptions:
    """Where a training or evaluation runs, and what it reruns first.

    Attributes:
        device: auto (GPU when present), cpu, cuda or cuda:N.
        resume: Continue an interrupted run of the same version from its last checkpoint.
        refresh: Rerun the default data's conversion first (as it was called); reuses what is unchanged.
    """

    device: str = "auto"
    resume: bool = False
    refresh: bool = False
