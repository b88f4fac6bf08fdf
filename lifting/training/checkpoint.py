"""Checkpoints: state dicts plus everything needed to rebuild the model and resume the run exactly.

A checkpoint is a plain dict saved with ``torch.save`` and read with ``torch.load(weights_only=True)``::

    format          CHECKPOINT_FORMAT_VERSION
    model           {"name", "preset", "overrides", "config"}   config: the resolved model config as JSON data
    training        TrainingConfig as JSON data
    data            {"skeleton", "joint_names"}                 of the training store
    state           {"model", "ema" (or None), "optimizer"}     state dicts
    progress        TrainingProgress as a dict                  epoch, batch in epoch, step, best validation
    rng             {"torch": ByteTensor, "cuda": [ByteTensor]}  generator states at the save

Files of a training output directory: ``checkpoint_last.pt`` (every K steps, every epoch, on SIGTERM/SIGINT),
``checkpoint_best.pt`` (lowest validation MPJPE), ``metrics.jsonl`` and ``tensorboard/``.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from datasets.config import from_mapping
from datasets.storage import write_atomically
from lifting.models.registry import ModelConfig
from lifting.training.config import TrainingConfig
from lifting.training.model_interface import build_model_from_config, model_config_from_dict

CHECKPOINT_FORMAT_VERSION = 1
"""Bumped on any incompatible change of the layout above; loaders refuse other versions."""

LAST_CHECKPOINT = "checkpoint_last.pt"
BEST_CHECKPOINT = "checkpoint_best.pt"
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIRECTORY = "tensorboard"
EMA_PREFIX = "module."
"""``AveragedModel.state_dict()`` keys of the averaged weights start with this; ``n_averaged`` does not."""


@dataclass
class TrainingProgress:
    """Where a run stands.

    Attributes:
        epoch: Epochs completed (the epoch being trained is ``epoch``).
        batch_in_epoch: Batches of the current epoch already trained on.
        global_step: Batches trained on in total (TMT's two updates per batch count as one step).
        best_validation: Lowest validation MPJPE so far, metres; None before the first validation.
        best_epoch: Epochs completed when ``best_validation`` was reached.
        epoch_loss_sum: Sum of the training losses of the current epoch's batches so far.
        epoch_batches: Batches those losses came from.
        last_epoch_loss: Mean training loss of the last finished epoch.
    """

    epoch: int = 0
    batch_in_epoch: int = 0
    global_step: int = 0
    best_validation: float | None = None
    best_epoch: int | None = None
    epoch_loss_sum: float = 0.0
    epoch_batches: int = 0
    last_epoch_loss: float | None = None


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about its model and run.

    Attributes:
        path: The file, if loaded from one.
        model_name: Key of ``lifting.models.MODELS``.
        model_preset: The preset it was built from (None: config defaults + overrides).
        model_config: The resolved model config.
        training_config: The run's ``TrainingConfig``.
        skeleton: Skeleton name of the training data.
        joint_names: Joint names in output order.
        weights: Which weights were loaded into the model: ``"ema"`` or ``"model"``.
        progress: The run's progress at the save.
    """

    path: Path | None
    model_name: str
    model_preset: str | None
    model_config: ModelConfig
    training_config: TrainingConfig
    skeleton: str
    joint_names: tuple[str, ...]
    weights: str
    progress: TrainingProgress


def make_checkpoint(
    *,
    model_name: str,
    model_preset: str | None,
    model_overrides: Mapping[str, Any] | None,
    model_config_data: Mapping[str, Any],
    training_data: Mapping[str, Any],
    skeleton: str,
    joint_names: tuple[str, ...],
    model: nn.Module,
    ema: nn.Module | None,
    optimizer: torch.optim.Optimizer,
    progress: TrainingProgress,
) -> dict[str, Any]:
    """The checkpoint dict (module docstring) of the current state; generator states are read now."""
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "format": CHECKPOINT_FORMAT_VERSION,
        "model": {
            "name": model_name,
            "preset": model_preset,
            "overrides": dict(model_overrides or {}),
            "config": dict(model_config_data),
        },
        "training": dict(training_data),
        "data": {"skeleton": skeleton, "joint_names": list(joint_names)},
        "state": {
            "model": model.state_dict(),
            "ema": None if ema is None else ema.state_dict(),
            "optimizer": optimizer.state_dict(),
        },
        "progress": asdict(progress),
        "rng": rng,
    }


def save_checkpoint(path: Path, checkpoint: Mapping[str, Any]) -> None:
    """Write atomically (``datasets.storage.write_atomically``): a reader sees the old file or the new one."""
    write_atomically(Path(path), lambda handle: torch.save(dict(checkpoint), handle))


class CheckpointRefusedError(ValueError):
    """A checkpoint file ``torch.load(weights_only=True)`` refuses (it asks for code) or cannot read; one line."""


REFUSAL_DETAIL_CHARACTERS = 300
"""How much of torch's own reason a refusal quotes (its message is several paragraphs of advice)."""


def _weights_only_reason(error: BaseException) -> str:
    """The part of torch's refusal that says what the file asked for, on one line (no advice to unsafely retry)."""
    paragraphs = [" ".join(part.split()) for part in str(error).split("\n\n") if part.strip()]
    specific = [part for part in paragraphs[1:] if not part.startswith("Check the documentation")]
    reason = " ".join(specific or paragraphs[:1]).rpartition("WeightsUnpickler error:")[2].strip()
    return reason[:REFUSAL_DETAIL_CHARACTERS].rstrip(".")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` onto the CPU, refusing other format versions.

    Raises:
        CheckpointRefusedError: The file asks for anything but tensors, numbers, strings and containers (a
            malicious pickle: nothing in it runs) or is not a checkpoint at all; one line naming the file.
        ValueError: Another checkpoint format version.
    """
    try:
        checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointRefusedError(
            f"{path} refused: {_weights_only_reason(error)}. A checkpoint holds only tensors, numbers, strings and "
            "containers (read with torch.load(weights_only=True)); this file is malicious or not a mocaplift "
            "checkpoint, and nothing in it was run"
        ) from error
    except RuntimeError as error:  # torch's zip reader: truncated, not a zip, a damaged record
        first_line = " ".join(str(error).split("\n", 1)[0].split())[:REFUSAL_DETAIL_CHARACTERS]
        raise CheckpointRefusedError(f"{path} is not a readable checkpoint ({first_line})") from error
    version = checkpoint.get("format") if isinstance(checkpoint, dict) else None
    if version != CHECKPOINT_FORMAT_VERSION:
        raise ValueError(
            f"{path} has checkpoint format {version!r}; this mocaplift reads format {CHECKPOINT_FORMAT_VERSION} "
            "(retrain, or load it with the mocaplift version that wrote it)"
        )
    return checkpoint


def restore_rng(checkpoint: Mapping[str, Any]) -> None:
    """Set torch's generators to the states saved in a checkpoint (call inside ``torch.random.fork_rng``)."""
    rng = checkpoint["rng"]
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def inference_state(
    checkpoint: Mapping[str, Any], weights: Literal["auto", "ema", "model"] = "auto"
) -> tuple[dict, str]:
    """The state dict to evaluate with: the EMA weights when present (``"auto"``), else the trained ones.

    Returns:
        ``(state_dict, "ema" | "model")``.
    """
    ema = checkpoint["state"]["ema"]
    if weights == "ema" and ema is None:
        raise ValueError("weights='ema' asked for, but the checkpoint was trained without EMA (ema_decay=None)")
    if weights != "model" and ema is not None:
        averaged = {key[len(EMA_PREFIX) :]: value for key, value in ema.items() if key.startswith(EMA_PREFIX)}
        return averaged, "ema"
    return checkpoint["state"]["model"], "model"


def checkpoint_info(checkpoint: Mapping[str, Any], path: Path | None = None, weights: str = "model") -> CheckpointInfo:
    """Parse a loaded checkpoint's description (no weights are touched)."""
    model = checkpoint["model"]
    return CheckpointInfo(
        path=path,
        model_name=model["name"],
        model_preset=model["preset"],
        model_config=model_config_from_dict(model["name"], model["config"]),
        training_config=from_mapping(TrainingConfig, checkpoint["training"], f"{path or 'checkpoint'} training"),
        skeleton=checkpoint["data"]["skeleton"],
        joint_names=tuple(checkpoint["data"]["joint_names"]),
        weights=weights,
        progress=TrainingProgress(**checkpoint["progress"]),
    )


def load_model(
    checkpoint: Path | Mapping[str, Any], weights: Literal["auto", "ema", "model"] = "auto"
) -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild a checkpoint's model with its weights, in eval mode, on the CPU.

    Args:
        checkpoint: A checkpoint file or an already loaded checkpoint dict.
        weights: ``"auto"`` (EMA if trained with it), ``"ema"`` or ``"model"``.

    Returns:
        ``(model, info)``.
    """
    path = Path(checkpoint) if isinstance(checkpoint, str | Path) else None
    loaded = load_checkpoint(path) if path is not None else checkpoint
    state, used = inference_state(loaded, weights)
    info = checkpoint_info(loaded, path, used)
    model = build_model_from_config(info.model_name, info.model_config)
    model.load_state_dict(state)
    return model.eval(), info
