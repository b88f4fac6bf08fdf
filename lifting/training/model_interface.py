"""The glue between models and windows: configs to and from JSON, each model's window, and its forward pass.

- ``resolve_model_config``: a model's config from its preset (or its defaults) plus overrides.
- ``model_config_to_dict`` / ``model_config_from_dict``: the config as JSON-ready data, as checkpoints hold it.
- ``window_config_for``: the ``WindowConfig`` a model reads (length, strides and output kind from its config).
- ``forward_windows``: run any model on a batch of windows with the inputs its config names
  (``LiftingModelConfig.forward_inputs``: the key-frame mask, TMT's ground-truth velocity in step 2).

Nothing here asks which model it holds: each config states what the trainer needs (``lifting.models.common``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from datasets.config import from_mapping, to_jsonable
from datasets.windows import WindowConfig
from lifting.models import MODELS, LiftingOutput, TMTConfig, load_model_config
from lifting.models.common import LiftingModelConfig
from lifting.models.registry import TMT_BACKBONE_OF, ModelConfig, require_model
from lifting.models.tmt import POSITION_CHANNELS, TMT_BACKBONES, VELOCITY_CHANNELS
from lifting.training.config import WindowSettings

WindowUse = Literal["training", "validation", "evaluation"]


def resolve_model_config(model: str, preset: str | None, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
    """A model's validated config.

    Args:
        model: A key of ``lifting.models.MODELS``.
        preset: A preset of the model (``presets/models/<model>/<preset>.yaml``), or None for the config
            dataclass's defaults (TMT: the backbone's defaults with 5 input channels).
        overrides: Fields replacing the preset's (TMT with a preset: ``backbone_preset``/``backbone_overrides``;
            TMT without: the backbone's fields).

    Returns:
        The config dataclass.
    """
    require_model(model)
    if preset is not None:
        return load_model_config(model, preset, overrides)
    values = dict(overrides or {})
    if model in TMT_BACKBONE_OF:
        backbone = TMT_BACKBONE_OF[model]
        values.setdefault("input_channels", POSITION_CHANNELS + VELOCITY_CHANNELS)
        return TMTConfig(backbone=backbone, backbone_config=from_mapping(TMT_BACKBONES[backbone].config_class, values))
    return from_mapping(MODELS[model].config_class, values, f"{model} overrides")


def model_config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """JSON-ready dict of a model config (nested for TMT)."""
    return to_jsonable(config)


def model_config_from_dict(model: str, values: Mapping[str, Any]) -> ModelConfig:
    """Inverse of ``model_config_to_dict`` for the model named ``model``."""
    if model in TMT_BACKBONE_OF:
        backbone = str(values["backbone"])
        backbone_class = TMT_BACKBONES[backbone].config_class
        return TMTConfig(backbone=backbone, backbone_config=from_mapping(backbone_class, values["backbone_config"]))
    return from_mapping(MODELS[model].config_class, values, f"{model} config")


def build_model_from_config(model: str, config: ModelConfig) -> nn.Module:
    """The model ``MODELS[model]`` built from an explicit config (random initialisation)."""
    return MODELS[model](config)


def window_config_for(
    config: LiftingModelConfig,
    settings: WindowSettings,
    use: WindowUse = "training",
    input_stride: int | None = None,
    centre_interval: int | None = None,
) -> WindowConfig:
    """The windows a model reads.

    Args:
        config: The model's config (its ``window_frames``, ``output_stride``, ``input_strides``, ``output_kind``).
        settings: Training-side choices (sampling, padding, 2D array, cache, virtual cameras).
        use: ``"training"``: every configured input stride, random key-frame shift per ``settings``, virtual
            cameras; ``"validation"`` / ``"evaluation"``: one input stride, key-frames aligned to the view's
            frame 0 (Uplift-and-Upsample Sec. 4.4), centred windows, no virtual cameras.
        input_stride: ``s_in`` outside training (None: the smallest configured).
        centre_interval: Frames between window centres (None: ``settings.centre_interval``). Outside training
            it is rounded up to a multiple of ``s_out`` (the least common multiple): with key-frames aligned to
            frame 0, only centres on the output grid see key-frames (Uplift-and-Upsample Sec. 4.4).

    Returns:
        The window configuration.
    """
    training = use == "training"
    strides = tuple(config.input_strides)
    if strides and not training:
        chosen = min(strides) if input_stride is None else input_stride
        if chosen not in strides:
            raise ValueError(f"input_stride {chosen} is not one of the model's input_strides {strides}")
        strides = (chosen,)
    sampling = settings.sampling
    if not training:
        sampling = "centres"
    elif sampling == "auto":
        sampling = "clips" if config.output_kind == "seq2seq" else "centres"
    interval = settings.centre_interval if centre_interval is None else centre_interval
    if not training:
        interval = math.lcm(interval, config.output_stride)
    return WindowConfig(
        frames=config.window_frames,
        output_stride=config.output_stride,
        input_strides=strides,
        key_frame_alignment="centre" if training else "global",
        random_key_frame_shift=training and settings.random_key_frame_shift and bool(strides),
        sampling=sampling,
        centre_interval=interval,
        padding=settings.padding,
        keypoints=settings.keypoints,
        cache=settings.cache,
        memory_limit_bytes=settings.memory_limit_bytes,
        cache_chunks=settings.cache_chunks,
        virtual_cameras=settings.virtual_cameras if training else None,
    )


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain model inside DDP, ``torch.compile`` and ``AveragedModel`` wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel | torch.optim.swa_utils.AveragedModel):
            model = model.module
        else:
            return model


def forward_windows(
    model: nn.Module, batch: Mapping[str, torch.Tensor], ground_truth_velocity: bool = False
) -> LiftingOutput:
    """Run a (possibly wrapped) model on a batch of windows, with the inputs its config asks for.

    Args:
        model: Any ``lifting.models`` model, possibly wrapped (DDP, compiled, EMA).
        batch: ``keypoints`` (B, P, J, 2), ``key_frame_mask`` (B, P) and, for TMT's step 2, ``joints_3d``.
        ground_truth_velocity: Models that take a velocity (TMT): feed the ground-truth 3D velocity of
            ``joints_3d`` (step 2) instead of zeros.

    Returns:
        ``LiftingOutput(sequence (B, P, J, 3), centre (B, J, 3))``, metres, root-relative, camera frame.
    """
    config: LiftingModelConfig = unwrap_model(model).config
    return model(**config.forward_inputs(batch, ground_truth_velocity))
