"""Training uplifting transformers on pose stores: ``train``, ``train_step``, ``TrainingConfig``, checkpoints.

    from datasets.config import load_config
    from lifting.training import TrainingConfig, train

    config = load_config(TrainingConfig, "training", "demo")
    result = train("mixste", "demo", train_store, validation_store, config, Path("runs/demo"), device="cpu")
    result.checkpoint_best        # evaluate it with lifting.evaluation.evaluate

Modules: ``config`` (the typed configuration), ``models`` (model configs, windows, forward pass: what each
model's config states, no per-model branches), ``data`` (training and validation windows), ``state`` (model,
optimiser, EMA and progress, built and seeded in one place), ``objectives`` (each model's loss), ``step`` (one
update; the updates of a batch), ``loop`` (the run), ``runtime`` (signals, TF32), ``checkpoint``, ``records``
(metrics.jsonl and TensorBoard), ``validation``, ``distributed`` (torchrun/DDP, rank 0's broadcast).
"""

from lifting.training.checkpoint import (
    BEST_CHECKPOINT,
    CHECKPOINT_FORMAT_VERSION,
    LAST_CHECKPOINT,
    METRICS_FILE,
    TENSORBOARD_DIRECTORY,
    CheckpointInfo,
    TrainingProgress,
    checkpoint_info,
    load_checkpoint,
    load_model,
)
from lifting.training.config import LossConfig, TrainingConfig, WindowSettings
from lifting.training.distributed import DistributedContext, resolve_device, setup_distributed
from lifting.training.loop import TrainingResult, train
from lifting.training.model_interface import (
    forward_windows,
    model_config_from_dict,
    model_config_to_dict,
    resolve_model_config,
    unwrap_model,
    window_config_for,
)
from lifting.training.objectives import LiftingObjective, loss_kind_for
from lifting.training.records import read_metrics
from lifting.training.step import train_step
from lifting.training.validation import validation_mpjpe

__all__ = [
    "BEST_CHECKPOINT",
    "CHECKPOINT_FORMAT_VERSION",
    "LAST_CHECKPOINT",
    "METRICS_FILE",
    "TENSORBOARD_DIRECTORY",
    "CheckpointInfo",
    "DistributedContext",
    "LiftingObjective",
    "LossConfig",
    "TrainingConfig",
    "TrainingProgress",
    "TrainingResult",
    "WindowSettings",
    "checkpoint_info",
    "forward_windows",
    "load_checkpoint",
    "load_model",
    "loss_kind_for",
    "model_config_from_dict",
    "model_config_to_dict",
    "read_metrics",
    "resolve_device",
    "resolve_model_config",
    "setup_distributed",
    "train",
    "train_step",
    "unwrap_model",
    "validation_mpjpe",
    "window_config_for",
]
