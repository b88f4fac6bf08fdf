"""Model names, presets and builders: the one place that maps a name and a preset to a model.

Presets are YAML files ``presets/models/<model>/<preset>.yaml`` at the repository root. Their keys are the
fields of the model's config dataclass (every value citing its table or section in a comment), plus an
optional ``paper`` mapping with the paper's parameter count to compare against::

    paper:
      parameters_millions: 10.39        # Einfalt et al., Table 4
      counted: without_sequence_head    # or "all"
      source: "Uplift and Upsample (Einfalt et al., WACV 2023), Table 4"

A TMT preset (``mixste-tmt``, ``strided-tmt``) names its backbone's preset instead of repeating it:
``backbone_preset: h36m-243`` and optionally ``backbone_overrides: {...}``; the backbone is rebuilt with
5 input channels.

    >>> from lifting.models import available_presets, build_model
    >>> "demo" in available_presets("mixste")
    True
    >>> build_model("mixste", "demo").config.max_frames
    27
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import nn

from datasets.config import ConfigError, check_keys, from_mapping, read_preset
from datasets.config import available_presets as config_presets
from datasets.config import preset_path as config_preset_path
from lifting.models.info import ModelInfo, describe_model, format_model_info
from lifting.models.mixste import MixSTE, MixSTEConfig
from lifting.models.strided import StridedTransformer, StridedTransformerConfig
from lifting.models.tmt import (
    POSITION_CHANNELS,
    TMT_BACKBONES,
    VELOCITY_CHANNELS,
    TMTConfig,
    TwoStepMixedTraining,
)
from lifting.models.uplift_upsample import UpliftUpsample, UpliftUpsampleConfig

PRESETS_GROUP = "models"
"""Model presets are ``datasets.config`` presets of group ``models/<model>`` (``presets/models/<model>/``)."""

ModelConfig = UpliftUpsampleConfig | MixSTEConfig | StridedTransformerConfig | TMTConfig

TMT_BACKBONE_OF: Mapping[str, str] = MappingProxyType({f"{backbone}-tmt": backbone for backbone in TMT_BACKBONES})
"""TMT model name -> the backbone's model name: ``<backbone>-tmt`` for each of ``tmt.TMT_BACKBONES``."""

MODELS: Mapping[str, type[nn.Module]] = MappingProxyType(
    {
        "uplift-upsample": UpliftUpsample,
        "mixste": MixSTE,
        "strided": StridedTransformer,
        **dict.fromkeys(TMT_BACKBONE_OF, TwoStepMixedTraining),
    }
)
"""Model name -> class; each class takes its ``config_class`` instance."""

PAPER_PRESETS: Mapping[str, str] = MappingProxyType(
    {
        "uplift-upsample": "h36m-351",  # Einfalt et al., Table 1 (N = 351, the headline Human3.6M result)
        "mixste": "h36m-243",  # Zhang et al., Table 7 (T = 243 chosen) and Table 1
        "strided": "h36m-351",  # Li et al., 351 frames (the headline Human3.6M result)
        "mixste-tmt": "h36m-243",  # TMT paper, Table 1 (T = 243, MixSTE-based)
        "strided-tmt": "h36m-351",  # TMT around the Strided Transformer's headline configuration
    }
)
"""Model name -> the preset of its paper's headline configuration (what ``model-info`` shows by default)."""

PAPER_KEY = "paper"
_TMT_KEYS = ("backbone_preset", "backbone_overrides")
_PAPER_FIELDS = ("parameters_millions", "counted", "source")


@dataclass(frozen=True)
class PaperReference:
    """A paper's published parameter count for a preset.

    Attributes:
        parameters_millions: The published figure, in millions.
        counted: ``"all"`` or ``"without_sequence_head"`` (which of our counts the figure matches).
        source: Paper and table.
    """

    parameters_millions: float
    counted: Literal["all", "without_sequence_head"]
    source: str

    def __post_init__(self) -> None:
        """Validate the reference; each message names the rule and the value."""
        if self.counted not in ("all", "without_sequence_head"):
            raise ValueError(f"paper.counted must be 'all' or 'without_sequence_head', got {self.counted!r}")
        if not self.parameters_millions > 0:
            raise ValueError(f"paper.parameters_millions must be positive, got {self.parameters_millions!r}")


def require_model(model: str) -> None:
    """Raise ``KeyError`` naming the known models unless ``model`` is one of ``MODELS``."""
    if model not in MODELS:
        raise KeyError(f"unknown model {model!r}; known: {', '.join(MODELS)}")


def model_modules(model: str) -> tuple[str, ...]:
    """Modules that implement ``model``: its class's, and for a TMT model its backbone's.

    A training or evaluation run executes these model modules and no other (``pipelines.lineage.code_identity``).

    >>> model_modules("mixste-tmt")
    ('lifting.models.tmt', 'lifting.models.mixste')
    """
    require_model(model)
    backbone = TMT_BACKBONE_OF.get(model)
    return (MODELS[model].__module__,) + ((TMT_BACKBONES[backbone].__module__,) if backbone else ())


def _group(model: str) -> str:
    """The preset group of ``model``: ``presets/models/<model>/`` (``datasets.config``)."""
    require_model(model)
    return f"{PRESETS_GROUP}/{model}"


def available_presets(model: str) -> list[str]:
    """Names of the presets of ``model`` (the YAML file stems), sorted; always includes ``"demo"``.

    Args:
        model: A key of ``MODELS``.

    Returns:
        Preset names, e.g. ``["demo", "h36m-243", "h36m-81"]``.
    """
    return config_presets(_group(model))


def preset_path(model: str, preset: str) -> Path:
    """Path of a preset file; ``ConfigError`` listing the available presets if it does not exist."""
    return config_preset_path(_group(model), preset)


def load_model_config(model: str, preset: str, overrides: Mapping[str, Any] | None = None) -> ModelConfig:
    """Read a preset into the model's frozen config dataclass, with optional overrides.

    Args:
        model: A key of ``MODELS``.
        preset: One of ``available_presets(model)``.
        overrides: Config fields replacing the preset's values (TMT models: ``backbone_preset`` and
            ``backbone_overrides``).

    Returns:
        The validated config (``TMTConfig`` for TMT models).

    Raises:
        KeyError: Unknown model.
        ConfigError: Unknown preset, a key that is not a field (the message names it, its source and the
            valid keys), or a value the config rejects (``datasets.config``, the one preset loader).
    """
    content, path = read_preset(_group(model), preset)
    content.pop(PAPER_KEY, None)
    overrides = dict(overrides or {})
    if model in TMT_BACKBONE_OF:
        check_keys(content, _TMT_KEYS, str(path))
        check_keys(overrides, _TMT_KEYS, "overrides")
        merged = {**content, **overrides}
        if "backbone_preset" not in merged:
            raise ConfigError(f"{path} must name the backbone's preset under 'backbone_preset'")
        backbone = TMT_BACKBONE_OF[model]
        backbone_overrides = {"input_channels": POSITION_CHANNELS + VELOCITY_CHANNELS}
        backbone_overrides.update(merged.get("backbone_overrides") or {})
        backbone_config = load_model_config(backbone, merged["backbone_preset"], backbone_overrides)
        return TMTConfig(backbone=backbone, backbone_config=backbone_config)
    config_class = MODELS[model].config_class
    check_keys(overrides, (field.name for field in fields(config_class)), "overrides")
    return from_mapping(config_class, {**content, **overrides}, str(path))


def build_model(model: str, preset: str = "demo", overrides: Mapping[str, Any] | None = None) -> nn.Module:
    """Build a model from a preset (random initialisation from the global torch generator).

    Args:
        model: A key of ``MODELS``.
        preset: One of ``available_presets(model)``.
        overrides: Config fields replacing the preset's values.

    Returns:
        The model, on CPU, in training mode.
    """
    return MODELS[model](load_model_config(model, preset, overrides))


def paper_reference(model: str, preset: str) -> PaperReference | None:
    """The preset's ``paper`` entry (published parameter count), or None if it has none."""
    content, path = read_preset(_group(model), preset)
    entry = content.get(PAPER_KEY)
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ConfigError(f"'{PAPER_KEY}' in {path} must be a mapping with keys {', '.join(_PAPER_FIELDS)}")
    return from_mapping(PaperReference, entry, f"'{PAPER_KEY}' of {path}")


def model_info(model: str, preset: str) -> ModelInfo:
    """Parameters, FLOPs (batch 1) and shapes of a preset, with the paper's parameter count beside them.

    The model is built on the ``meta`` device, so even MixSTE at T = 243 takes well under a second.

    Args:
        model: A key of ``MODELS``.
        preset: One of ``available_presets(model)``.

    Returns:
        The ``ModelInfo``; print it with ``format_model_info``.
    """
    config = load_model_config(model, preset)
    with torch.device("meta"):
        network = MODELS[model](config)
    reference = paper_reference(model, preset)
    paper = None
    if reference is not None:
        paper = (reference.parameters_millions * 1e6, reference.counted, reference.source)
    return describe_model(network, model, preset, paper)


__all__ = [
    "MODELS",
    "PAPER_PRESETS",
    "PRESETS_GROUP",
    "TMT_BACKBONE_OF",
    "ModelConfig",
    "ModelInfo",
    "PaperReference",
    "available_presets",
    "build_model",
    "format_model_info",
    "load_model_config",
    "model_info",
    "paper_reference",
    "preset_path",
]
