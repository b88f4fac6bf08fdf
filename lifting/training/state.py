"""The state a training run changes: model, optimiser, EMA and progress, built complete in one call.

    state = initial_state(spec, config, device, init_checkpoint=None, resume_from=None)

What each random number is drawn from (``TrainingConfig.seed`` is the one seed):

- model initialisation: a CPU ``torch.Generator`` seeded with ``seed`` (``seeded_model``), so the initial
  weights do not depend on the device or on anything drawn before;
- data order, input strides, key-frame shifts, virtual cameras: the sampler's and the windows' own generators
  (``datasets.windows``, keyed by ``(seed, epoch, window)``);
- dropout and stochastic depth: the training device's default generator. torch's dropout takes no
  ``Generator``, so ``seed_dropout`` seeds that one generator with a stream of ``seed`` (``stream_seed``) once,
  inside the run's ``torch.random.fork_rng`` (``runtime.numerics``: the caller's generator is restored on
  exit); checkpoints save its state so a resumed run continues the same stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from datasets.config import to_jsonable
from lifting.models.registry import ModelConfig
from lifting.training.checkpoint import TrainingProgress, inference_state, load_checkpoint, restore_rng
from lifting.training.config import TrainingConfig
from lifting.training.model_interface import build_model_from_config, model_config_to_dict, resolve_model_config

RESUMABLE_CHANGES = frozenset(
    {"epochs", "max_steps", "progress_bar", "num_workers", "checkpoint_every_steps", "compile", "compile_mode",
     "log_every_steps"}
)  # fmt: skip
"""TrainingConfig fields a resumed run may change; any other difference is refused."""

DROPOUT_STREAM = 1
"""``stream_seed`` stream of dropout and stochastic depth (the initialisation uses the seed itself)."""


@dataclass(frozen=True)
class ModelSpec:
    """Which model a run trains, as its checkpoints record it.

    Attributes:
        name: Key of ``lifting.models.MODELS``.
        preset: Its preset, or None for config defaults.
        overrides: Fields replacing the preset's.
        config: The resolved config.
    """

    name: str
    preset: str | None
    overrides: Mapping[str, Any]
    config: ModelConfig

    @classmethod
    def resolve(cls, name: str, preset: str | None, overrides: Mapping[str, Any] | None = None) -> ModelSpec:
        """The spec of a model name, preset and overrides (``models.resolve_model_config``)."""
        return cls(name, preset, dict(overrides or {}), resolve_model_config(name, preset, overrides))


@dataclass
class TrainingState:
    """Everything a step changes and a checkpoint holds (besides the generators).

    Attributes:
        model: The plain model on the training device.
        optimizer: AdamW over its parameters.
        ema: The exponential moving average of its weights, or None.
        progress: Where the run stands.
        resumed: Whether the state came from ``checkpoint_last.pt``.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    ema: AveragedModel | None
    progress: TrainingProgress = field(default_factory=TrainingProgress)
    resumed: bool = False


def stream_seed(seed: int, stream: int) -> int:
    """A 63-bit seed of one independent stream of ``seed`` (``numpy.random.SeedSequence``).

    >>> stream_seed(0, 1) == stream_seed(0, 1) != stream_seed(0, 2)
    True
    """
    return int(np.random.SeedSequence([seed, stream]).generate_state(1, np.uint64)[0] >> np.uint64(1))


@contextlib.contextmanager
def drawing_from(generator: torch.Generator) -> Iterator[None]:
    """Inside the block the CPU default generator draws ``generator``'s numbers (module initialisers take none).

    On exit ``generator`` has advanced by what was drawn and the default generator is as before.
    """
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        yield
        generator.set_state(torch.get_rng_state())


def seeded_model(spec: ModelSpec, seed: int) -> nn.Module:
    """The model of ``spec`` on the CPU, initialised from a generator seeded with ``seed``."""
    with drawing_from(torch.Generator().manual_seed(seed)):
        return build_model_from_config(spec.name, spec.config)


def seed_dropout(device: torch.device, seed: int) -> None:
    """Seed the default generator of ``device``, which dropout and drop-path draw from (call inside fork_rng)."""
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)  # this device's generator only (lazily, if CUDA is not initialised yet)
    else:
        torch.default_generator.manual_seed(seed)


def _parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weights with >= 2 dimensions decay; biases, norm scales and 1-D embeddings do not (nanoGPT's rule)."""
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    return [
        {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0},
    ]


def make_optimizer(model: nn.Module, config: TrainingConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with decay on >= 2-D weights only; one fused kernel on CUDA, torch's default elsewhere."""
    return torch.optim.AdamW(
        _parameter_groups(model, config.torch_weight_decay), lr=config.learning_rate, betas=config.adam_betas,
        amsgrad=config.amsgrad, fused=device.type == "cuda" or None,
    )  # fmt: skip


def _load_initial_weights(model: nn.Module, spec: ModelSpec, path: Path) -> None:
    """Finetuning: the weights (EMA ones if present) of another run of the same model."""
    checkpoint = load_checkpoint(path)
    if checkpoint["model"]["name"] != spec.name:
        raise ValueError(f"{path} holds a {checkpoint['model']['name']!r} model, not {spec.name!r}")
    state, _ = inference_state(checkpoint)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(f"{path}'s weights do not fit this {spec.name} configuration: {error}") from error


def check_resumable(checkpoint: Mapping[str, Any], spec: ModelSpec, config: TrainingConfig, where: Path) -> None:
    """Refuse to resume when the model config or a non-``RESUMABLE_CHANGES`` field differs, naming them."""
    saved, current = checkpoint["training"], to_jsonable(config)
    changed = sorted(key for key in current if saved.get(key) != current[key] and key not in RESUMABLE_CHANGES)
    if changed or checkpoint["model"]["config"] != model_config_to_dict(spec.config):
        what = changed or ["the model config"]
        raise ValueError(f"cannot resume {where}: {', '.join(what)} differ from the checkpoint's")


def initial_state(
    spec: ModelSpec,
    config: TrainingConfig,
    device: torch.device,
    init_checkpoint: Path | None = None,
    resume_from: Path | None = None,
) -> TrainingState:
    """The run's state: seeded fresh weights, a finetuning start, or a checkpoint to resume exactly.

    Call inside ``runtime.numerics`` (it seeds, or on resume restores, the device's default generator).

    Args:
        spec: The model.
        config: The run's configuration (seed, optimiser, EMA).
        device: Where to train.
        init_checkpoint: Start from these weights (finetuning); ignored when resuming.
        resume_from: A ``checkpoint_last.pt`` of this run to continue (checked by ``check_resumable``).

    Returns:
        The complete ``TrainingState``; the EMA starts from the final initial weights.
    """
    model = seeded_model(spec, config.seed)
    checkpoint = load_checkpoint(resume_from) if resume_from is not None else None
    if checkpoint is not None:
        check_resumable(checkpoint, spec, config, resume_from.parent)
        model.load_state_dict(checkpoint["state"]["model"])
    elif init_checkpoint is not None:
        _load_initial_weights(model, spec, Path(init_checkpoint))
    model = model.to(device)
    ema = None
    if config.ema_decay is not None:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
    state = TrainingState(model, make_optimizer(model, config, device), ema)
    seed_dropout(device, stream_seed(config.seed, DROPOUT_STREAM))
    if checkpoint is not None:
        state.optimizer.load_state_dict(checkpoint["state"]["optimizer"])
        if ema is not None:
            ema.load_state_dict(checkpoint["state"]["ema"])
        state.progress, state.resumed = TrainingProgress(**checkpoint["progress"]), True
        restore_rng(checkpoint)
    return state
