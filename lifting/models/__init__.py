"""The uplifting transformers: Uplift-and-Upsample, MixSTE, Strided Transformer, and TMT around a backbone.

Build a model by name and preset (``presets/models/<model>/<preset>.yaml``)::

    >>> import torch
    >>> from lifting.models import build_model
    >>> model = build_model("mixste", "demo").eval()
    >>> model(torch.zeros(2, 9, 17, 2)).sequence.shape
    torch.Size([2, 9, 17, 3])

Every model returns a ``LiftingOutput(sequence, centre)``: root-relative 3D joints in metres, camera frame.
Every config is a ``LiftingModelConfig``: it states its window, output kind and forward inputs for the trainer.
"""

from lifting.models.attention import (
    MultiHeadSelfAttention,
    einsum_attention,
    set_attention_backend,
    strided_sparse_attention_mask,
)
from lifting.models.common import LiftingModelConfig, LiftingOutput, OutputKind
from lifting.models.mixste import MixSTE, MixSTEConfig
from lifting.models.registry import (
    MODELS,
    PAPER_PRESETS,
    PRESETS_GROUP,
    ModelInfo,
    PaperReference,
    available_presets,
    build_model,
    format_model_info,
    load_model_config,
    model_info,
    paper_reference,
)
from lifting.models.strided import StridedTransformer, StridedTransformerConfig
from lifting.models.tmt import (
    TMTConfig,
    TMTStep,
    TwoStepMixedTraining,
    tmt_step,
    velocity_from_positions,
)
from lifting.models.uplift_upsample import UpliftUpsample, UpliftUpsampleConfig, key_frame_mask

__all__ = [
    "MODELS",
    "PAPER_PRESETS",
    "PRESETS_GROUP",
    "LiftingModelConfig",
    "LiftingOutput",
    "MixSTE",
    "MixSTEConfig",
    "ModelInfo",
    "MultiHeadSelfAttention",
    "OutputKind",
    "PaperReference",
    "StridedTransformer",
    "StridedTransformerConfig",
    "TMTConfig",
    "TMTStep",
    "TwoStepMixedTraining",
    "UpliftUpsample",
    "UpliftUpsampleConfig",
    "available_presets",
    "build_model",
    "einsum_attention",
    "format_model_info",
    "key_frame_mask",
    "load_model_config",
    "model_info",
    "paper_reference",
    "set_attention_backend",
    "strided_sparse_attention_mask",
    "tmt_step",
    "velocity_from_positions",
]
