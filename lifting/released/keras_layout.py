"""The released Uplift-and-Upsample Keras weights (``.h5``) as our ``UpliftUpsample`` state dict, without TensorFlow.

The authors' TensorFlow code (goldbricklemon/uplift-upsample-3dhpe, ``common/net/uplift_upsample_transformer.py``)
saves its subclassed ``keras.Model`` with ``save_weights(".h5")`` (Keras 2's HDF5 layout): one group per
top-level layer, named by the layer, whose attribute ``weight_names`` lists that layer's weights in the order
Keras assigns them (a nested layer's weights in the order its sub-layers were created), each stored as a
dataset under its name. A full ``model.save`` puts the same groups under ``model_weights/``. The released
code loads by layer name and, inside a layer, by that order (``common/utils/weight_io.py``), and so does this
module: the names of nested weights carry Keras's global counters (``dense_12/kernel:0``) and are only checked
by their last part (``kernel``, ``bias``, ``gamma``, ``beta``).

Layouts: a Keras ``Dense`` kernel is ``(in, out)`` (ours ``(out, in)``); a ``Conv1D`` kernel ``(k, in, out)``
(ours ``(out, in, k)``); the attention has separate q, k, v ``Dense`` layers (ours one fused ``qkv``, q then k
then v, heads split the same way: ``(B, L, heads, dim / heads)``).

Usage::

    layers = read_keras_h5(path)                    # {"spatial_block_1": [("spatial_block_1/.../gamma:0", array), ...]}
    state = uplift_upsample_from_keras(layers)      # {"joint_blocks.0.attention_norm.weight": array, ...}
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

KerasLayers = Mapping[str, Sequence[tuple[str, np.ndarray]]]
"""Top-level layer name -> its weights ``(keras name, array)`` in the file's order."""

TRANSFORMER_BLOCK = (
    ("attention_norm.weight", "gamma"), ("attention_norm.bias", "beta"),
    ("@q.weight", "kernel"), ("@q.bias", "bias"), ("@k.weight", "kernel"), ("@k.bias", "bias"),
    ("@v.weight", "kernel"), ("@v.bias", "bias"),
    ("attention.projection.weight", "kernel"), ("attention.projection.bias", "bias"),
    ("mlp_norm.weight", "gamma"), ("mlp_norm.bias", "beta"),
    ("mlp.expand.weight", "kernel"), ("mlp.expand.bias", "bias"),
    ("mlp.reduce.weight", "kernel"), ("mlp.reduce.bias", "bias"),
)  # fmt: skip
"""``vision_transformer.TransformerBlock``'s weights in Keras order (norm1, MHA wq/wk/wv/projection, norm2,
MLP fc1/fc2) -> ours; ``@q``/``@k``/``@v`` are concatenated into ``attention.qkv``."""

STRIDED_BLOCK = (
    *TRANSFORMER_BLOCK[:10],
    ("ffn_norm.weight", "gamma"), ("ffn_norm.bias", "beta"),
    ("expand.weight", "kernel"), ("expand.bias", "bias"),
    ("reduce.weight", "kernel"), ("reduce.bias", "bias"),
)  # fmt: skip
"""``StridedTransformerBlock``: the same attention, then norm2 and ``StridedMLP`` (fc1: Conv1D k 1, strided_conv:
Conv1D k 3) -> ours."""

SINGLE = {
    "keypoint_embedding": ("joint_embedding", (("weight", "kernel"), ("bias", "bias"))),
    "spatial_pe": ("joint_position", (("", "positional_encoding_weights"),)),
    "temporal_pe": ("temporal_position", (("", "positional_encoding_weights"),)),
    "strided_input_token_layer": ("upsampling_token", (("", "learnable_masked_token"),)),
    "spatial_norm": ("joint_norm", (("weight", "gamma"), ("bias", "beta"))),
    "spatial_to_temporal_fc": ("pose_projection", (("weight", "kernel"), ("bias", "bias"))),
    "temporal_fc": ("sequence_head", (("weight", "kernel"), ("bias", "bias"))),
    "strided_temporal_fc": ("centre_head", (("weight", "kernel"), ("bias", "bias"))),
}
"""Released top-level layers holding one tensor or one layer -> (our prefix, (our suffix, keras tail) in order)."""

NUMBERED = (
    (r"spatial_block_(\d+)", "joint_blocks.{}", TRANSFORMER_BLOCK),
    (r"temporal_block_(\d+)", "temporal_blocks.{}", TRANSFORMER_BLOCK),
    (r"strided_temporal_block_(\d+)", "strided_blocks.{}", STRIDED_BLOCK),
    (r"strided_temporal_pe_(\d+)", "strided_blocks.{}.position", (("", "positional_encoding_weights"),)),
)
"""Released numbered layers (counted from 1) -> our prefix (counted from 0) and their weights."""

WEIGHTLESS = frozenset({"token_dropout"})
"""Released layers that hold no weights."""


def _attribute(group: h5py.Group, name: str) -> list[str]:
    """A list attribute, also when Keras split it into ``name0``, ``name1``, ... (attributes over 64 kB)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [value.decode("utf8") if isinstance(value, bytes) else str(value) for value in values]


def read_keras_h5(path: str | Path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Every layer's weights of a Keras 2 HDF5 weights file (``save_weights`` or, under ``model_weights/``, ``save``).

    Args:
        path: The ``.h5`` file.

    Returns:
        Layer name -> ``[(weight name, array), ...]`` in the file's order (float32 arrays as stored).

    Raises:
        ValueError: Not an HDF5 file, or not a Keras weights file; the message names the file.
    """
    try:
        with h5py.File(path, "r") as handle:
            nested = "layer_names" not in handle.attrs and "model_weights" in handle
            root = handle["model_weights"] if nested else handle
            if "layer_names" not in root.attrs and "layer_names0" not in root.attrs:
                raise ValueError(f"{path} is an HDF5 file but not a Keras weights file (no 'layer_names' attribute)")
            return {
                layer: [(name, np.asarray(root[layer][name])) for name in _attribute(root[layer], "weight_names")]
                for layer in _attribute(root, "layer_names")
            }
    except OSError as error:
        raise ValueError(f"{path} is not a readable HDF5 file ({error})") from error


def _layer_target(layer: str) -> tuple[str, Sequence[tuple[str, str]]] | None:
    """Our prefix and the weight table of a released top-level layer (None: a layer this model has not)."""
    if layer in SINGLE:
        return SINGLE[layer]
    for pattern, prefix, table in NUMBERED:
        match = re.fullmatch(pattern, layer)
        if match:
            return prefix.format(int(match.group(1)) - 1), table
    return None


def _to_torch_layout(tail: str, value: np.ndarray) -> np.ndarray:
    """Keras ``Dense`` kernels ``(in, out)`` -> ``(out, in)``; ``Conv1D`` ``(k, in, out)`` -> ``(out, in, k)``."""
    if tail == "kernel":
        return np.ascontiguousarray(value.T if value.ndim == 2 else value.transpose(2, 1, 0))
    return value


def uplift_upsample_from_keras(layers: KerasLayers, qkv_bias: bool = True) -> dict[str, np.ndarray]:
    """Our ``UpliftUpsample`` state dict from the released model's layers (``read_keras_h5``).

    Args:
        layers: Layer name -> weights in the file's order.
        qkv_bias: Whether the released q/k/v layers have biases (``QKV_BIAS``, true in every released config).

    Returns:
        Our name -> array. Released layers this model has not (a ``LearnableMaskedTokenLayer`` of token masking,
        batch norms of ``OUTPUT_BN``) come back under their Keras names prefixed ``released:``, so a comparison
        with our model reports them instead of dropping them.

    Raises:
        ValueError: A layer whose weights differ in number or kind from the released code's; names both.
    """
    ours: dict[str, np.ndarray] = {}
    for layer, weights in layers.items():
        target = _layer_target(layer)
        if target is None:
            if layer not in WEIGHTLESS or weights:
                ours.update({f"released:{layer}/{name}": value for name, value in weights})
            continue
        prefix, table = target
        table = [row for row in table if qkv_bias or not (row[0].startswith("@") and row[1] == "bias")]
        tails = [name.rsplit("/", 1)[-1].split(":")[0] for name, _ in weights]
        if tails != [tail for _, tail in table]:
            raise ValueError(f"layer {layer} holds weights {tails}; the released code's layer holds "
                             f"{[tail for _, tail in table]}")  # fmt: skip
        qkv: dict[str, list[np.ndarray]] = {}
        for (suffix, tail), (_, value) in zip(table, weights, strict=True):
            value = _to_torch_layout(tail, value)
            if suffix.startswith("@"):
                qkv.setdefault(suffix.split(".")[1], []).append(value)
                continue
            ours[f"{prefix}.{suffix}" if suffix else prefix] = value
        for kind, parts in qkv.items():  # q, k, v in order
            ours[f"{prefix}.attention.qkv.{kind}"] = np.concatenate(parts, axis=0)
    return ours
