"""Multi-head self-attention shared by every uplifting transformer, and its einsum reference.

All models attend through ``torch.nn.functional.scaled_dot_product_attention`` (SDPA), which picks the
flash or memory-efficient kernel on GPU and a fused kernel on CPU. ``einsum_attention`` computes the same
thing the textbook way (logits, masked softmax, weighted sum); tests check SDPA against it and the
benchmark (``bench/bench_models.py``) uses it as the baseline. Switch a built model between the two with
``set_attention_backend``.

Masks follow SDPA's boolean convention: ``True`` means "this query may attend to this key". Every query
must keep at least one key, otherwise its softmax is undefined.

Shape legend: ``B`` batch (any leading dimensions), ``H`` heads, ``L`` query positions, ``S`` key
positions, ``D`` head width, ``C = H * D`` model width.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

AttentionBackend = Literal["sdpa", "einsum"]
ATTENTION_BACKENDS: tuple[str, ...] = ("sdpa", "einsum")


def einsum_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Scaled dot-product attention written out with einsum and softmax (the reference implementation).

    Args:
        query: ``(B, H, L, D)``.
        key: ``(B, H, S, D)``.
        value: ``(B, H, S, D)``.
        attention_mask: Boolean, broadcastable to ``(B, H, L, S)``; ``True`` keeps a key.
        dropout: Probability of dropping an attention weight (0 at evaluation).

    Returns:
        ``(B, H, L, D)``: ``softmax(q k^T / sqrt(D), masked) v``.
    """
    scale = 1.0 / math.sqrt(query.shape[-1])
    logits = torch.einsum("...ld,...sd->...ls", query, key) * scale  # (B, H, L, S)
    if attention_mask is not None:
        logits = logits.masked_fill(~attention_mask, float("-inf"))
    weights = logits.softmax(dim=-1)
    if dropout > 0.0:
        weights = F.dropout(weights, p=dropout)
    return torch.einsum("...ls,...sd->...ld", weights, value)  # (B, H, L, D)


def strided_sparse_attention_mask(
    length: int, num_heads: int, stride: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """Head masks of factorised "strided" sparse attention (Child et al. 2019, as the strided-lifting seed uses).

    The first half of the heads attends locally (``|i - j| < stride``), the second half attends to every
    ``stride``-th position (``(i - j) mod stride == 0``). The seed (Sec. 4.2, Eq. 4-5) writes the causal
    form for autoregressive models (``j <= i``); a lifting window sees past and future frames, so both
    patterns here are symmetric. Every position attends to itself, so no row is empty.

    Args:
        length: Sequence length ``L``.
        num_heads: ``H``; must be even so the two patterns get the same number of heads.
        stride: ``l``, the local window and the step of the strided pattern (the seed picks ``l ~ sqrt(L)``).
        device: Where to create the mask.

    Returns:
        ``(H, L, L)`` bool mask for ``scaled_dot_product_attention`` (``True`` = attend).
    """
    if num_heads % 2 != 0:
        raise ValueError(f"strided sparse attention splits heads into two patterns; num_heads={num_heads} is odd")
    if stride < 1:
        raise ValueError(f"strided sparse attention needs stride >= 1, got {stride}")
    positions = torch.arange(length, device=device)
    offset = positions[:, None] - positions[None, :]  # (L, L): i - j
    local = offset.abs() < stride
    strided = torch.remainder(offset, stride) == 0
    half = num_heads // 2
    return torch.cat([local.expand(half, -1, -1), strided.expand(half, -1, -1)], dim=0)  # (H, L, L)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with a fused query/key/value projection.

    The released codes use either one fused ``qkv`` layer (MixSTE) or three separate ones (Strided
    Transformer, Uplift-and-Upsample); both have the same parameters (``3 (C^2 + C)``), so one fused layer
    serves all models.

    Attributes:
        backend: ``"sdpa"`` (default) or ``"einsum"`` (the reference); see ``set_attention_backend``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attention_dropout: float = 0.0,
        projection_dropout: float = 0.0,
        sparse_stride: int | None = None,
    ) -> None:
        """Create the layers.

        Args:
            dim: Model width ``C``; divisible by ``num_heads``.
            num_heads: ``H``.
            qkv_bias: Whether the query/key/value projection has a bias.
            attention_dropout: Dropout on attention weights during training.
            projection_dropout: Dropout on the output projection during training.
            sparse_stride: None for full attention; ``l`` for factorised strided sparse attention (half the heads
                local, half every ``l``-th position; ``strided_sparse_attention_mask``), for any sequence length.
        """
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"attention width must be divisible by the head count; got dim={dim}, heads={num_heads}")
        if sparse_stride is not None and (sparse_stride < 1 or num_heads % 2 != 0):
            raise ValueError(
                f"strided sparse attention needs stride >= 1 and an even head count; "
                f"got sparse_stride={sparse_stride}, heads={num_heads}"
            )
        self.num_heads = num_heads
        self.sparse_stride = sparse_stride
        self.attention_dropout = attention_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.projection = nn.Linear(dim, dim)
        self.projection_dropout = nn.Dropout(projection_dropout)
        self.backend: AttentionBackend = "sdpa"

    def forward(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend over the second-to-last axis.

        Args:
            tokens: ``(B, L, C)``.
            attention_mask: Boolean, broadcastable to ``(B, H, L, L)``; ``True`` keeps a key. Combined with the
                sparse pattern when ``sparse_stride`` is set.

        Returns:
            ``(B, L, C)``.
        """
        batch, length, width = tokens.shape
        head_dim = width // self.num_heads
        qkv = self.qkv(tokens).reshape(batch, length, 3, self.num_heads, head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, L, D)
        dropout = self.attention_dropout if self.training else 0.0
        if self.sparse_stride is not None:
            sparse = strided_sparse_attention_mask(length, self.num_heads, self.sparse_stride, tokens.device)
            attention_mask = sparse if attention_mask is None else attention_mask & sparse  # (B, H, L, L)
        if self.backend == "sdpa":
            attended = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout)
        else:
            attended = einsum_attention(query, key, value, attention_mask, dropout)
        attended = attended.transpose(1, 2).reshape(batch, length, width)  # (B, L, H, D) -> (B, L, C)
        return self.projection_dropout(self.projection(attended))


def set_attention_backend(model: nn.Module, backend: AttentionBackend) -> nn.Module:
    """Make every ``MultiHeadSelfAttention`` in ``model`` use ``backend``; weights are untouched.

    Args:
        model: Any module tree.
        backend: ``"sdpa"`` or ``"einsum"``.

    Returns:
        ``model`` itself, for chaining.
    """
    if backend not in ATTENTION_BACKENDS:
        raise ValueError(f"attention backend must be one of {ATTENTION_BACKENDS}, got {backend!r}")
    for module in model.modules():
        if isinstance(module, MultiHeadSelfAttention):
            module.backend = backend
    return model
