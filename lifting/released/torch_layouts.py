"""The authors' released PyTorch weights as our state dicts: names and shapes only, no arithmetic.

The released parameter names are facts about their code; the rename tables are ours, declared once here and
used by the importer (``lifting.released.importer``) and by the golden scripts and tests.

- Strided Transformer (Vegetebird/StridedTransformer-Pose3D, ``model/strided_transformer.py``'s ``Model``):
  separate q/k/v linears concatenate into our fused ``qkv``; positional embeddings drop their leading 1. Its
  released ``.pth`` files are plain state dicts; the refinement module (``model/block/refine.py``, keys
  ``post_refine.*``) is saved in a file of its own (``refine_*.pth``) and has no counterpart here.
- MixSTE (JinluZhang1126/MixSTE, ``common/model_cross.py``'s ``MixSTE2``): renames only (same fused qkv). Its
  released ``.bin`` files are dicts ``{"epoch", "lr", "random_state", "optimizer", "model_pos"}`` whose
  ``model_pos`` was saved from ``nn.DataParallel`` (every key starts with ``module.``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

DATA_PARALLEL_PREFIX = "module."
"""What ``nn.DataParallel`` / DDP put before every key of a wrapped model's state dict."""
STRIDED_REFINE_PREFIX = "post_refine."
"""Keys of the Strided Transformer's separate refinement module (``refine_*.pth``)."""
MIXSTE_WEIGHTS_KEY = "model_pos"
"""The model's state dict inside a released MixSTE ``.bin``."""

_STRIDED_RENAMES = (
    (r"^encoder\.([01])\.", r"embedding.\1."),
    (r"^fcn_1\.0\.", "sequence_head.norm."),
    (r"^fcn_1\.1\.", "sequence_head.regress."),
    (r"^fcn\.0\.", "centre_head.norm."),
    (r"^fcn\.1\.", "centre_head.regress."),
    (r"^Transformer\.model\.norm\.a_2$", "vanilla_norm.weight"),
    (r"^Transformer\.model\.norm\.b_2$", "vanilla_norm.bias"),
    (r"^Transformer_reduce\.model\.norm\.a_2$", "strided_norm.weight"),
    (r"^Transformer_reduce\.model\.norm\.b_2$", "strided_norm.bias"),
    (r"^Transformer\.model\.layers\.(\d+)\.", r"vanilla_blocks.\1."),
    (r"^Transformer_reduce\.model\.layers\.(\d+)\.", r"strided_blocks.\1."),
    (r"\.self_attn\.linears\.3\.", ".attention.projection."),
    (r"\.feed_forward\.w_1\.", ".@ffn1."),
    (r"\.feed_forward\.w_2\.", ".@ffn2."),
    (r"\.sublayer\.0\.norm\.a_2$", ".attention_norm.weight"),
    (r"\.sublayer\.0\.norm\.b_2$", ".attention_norm.bias"),
    (r"\.sublayer\.1\.norm\.a_2$", ".@norm2.weight"),
    (r"\.sublayer\.1\.norm\.b_2$", ".@norm2.bias"),
)
"""Regex renames applied in order; ``@`` marks names whose target differs between the two encoders."""

_MIXSTE_RENAMES = (
    (r"^Spatial_patch_to_embedding\.", "joint_embedding."),
    (r"^Spatial_pos_embed$", "spatial_position"),
    (r"^Temporal_pos_embed$", "temporal_position"),
    (r"^Spatial_norm\.", "spatial_norm."),
    (r"^Temporal_norm\.", "temporal_norm."),
    (r"^STEblocks\.", "spatial_blocks."),
    (r"^TTEblocks\.", "temporal_blocks."),
    (r"\.norm1\.", ".attention_norm."),
    (r"\.norm2\.", ".mlp_norm."),
    (r"\.attn\.qkv\.", ".attention.qkv."),
    (r"\.attn\.proj\.", ".attention.projection."),
    (r"\.mlp\.fc1\.", ".mlp.expand."),
    (r"\.mlp\.fc2\.", ".mlp.reduce."),
)


def without_data_parallel_prefix(state: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The state dict with ``module.`` removed from every key that has it (files saved with or without it)."""
    return {name.removeprefix(DATA_PARALLEL_PREFIX): value for name, value in state.items()}


def _rename(name: str, renames: tuple[tuple[str, str], ...]) -> str:
    for pattern, replacement in renames:
        name = re.sub(pattern, replacement, name)
    return name


def strided_from_released(released: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Our ``StridedTransformer`` state dict from the released ``Model``'s.

    Args:
        released: Released parameter and buffer name -> array.

    Returns:
        Our name -> array; q, k and v linears of each attention concatenated (in that order) into ``qkv``.
    """
    ours: dict[str, np.ndarray] = {}
    qkv: dict[str, dict[int, np.ndarray]] = {}
    for name, value in released.items():
        if name.startswith("Transformer_reduce.model.pos_embedding_"):
            layer = int(name.rsplit("_", 1)[1]) - 1
            ours[f"strided_blocks.{layer}.position"] = value[0]
            continue
        if name == "Transformer.pos_embedding":
            ours["vanilla_position"] = value[0]
            continue
        match = re.search(r"\.self_attn\.linears\.([012])\.(weight|bias)$", name)
        if match:
            prefix = _rename(name[: match.start()] + ".", _STRIDED_RENAMES)
            qkv.setdefault(f"{prefix}attention.qkv.{match.group(2)}", {})[int(match.group(1))] = value
            continue
        target = _rename(name, _STRIDED_RENAMES)
        vanilla = target.startswith("vanilla_blocks.")
        target = target.replace("@ffn1", "mlp.expand" if vanilla else "expand")
        target = target.replace("@ffn2", "mlp.reduce" if vanilla else "reduce")
        ours[target.replace("@norm2", "mlp_norm" if vanilla else "ffn_norm")] = value
    for name, parts in qkv.items():
        ours[name] = np.concatenate([parts[0], parts[1], parts[2]], axis=0)
    return ours


def mixste_from_released(released: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Our ``MixSTE`` state dict from the released ``MixSTE2``'s (positional embeddings lose their leading 1)."""
    ours = {}
    for name, value in released.items():
        target = _rename(name, _MIXSTE_RENAMES)
        ours[target] = value[0] if target in ("spatial_position", "temporal_position") else value
    return ours
