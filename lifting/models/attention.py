"""Multi-head self-attention shared by every uplifting transformer, and its einsum reference.

Three kernels compute the same thing (tests check them against each other):

- ``"sdpa"``: ``torch.nn.functional.scaled_dot_product_attention`` with every backend allowed (flash,
  memory-efficient or cuDNN on GPU, a fused kernel on CPU);
- ``"sdpa-no-flash"``: SDPA with FlashAttention excluded (cuDNN, memory-efficient, or the math fallback);
- ``"einsum"``: ``einsum_attention``, the textbook way (logits, masked softmax, weighted sum); the reference,
  and under ``torch.compile`` two batched matrix products around one fused scale-mask-softmax kernel.

The default backend ``"auto"`` picks the kernel per call from the shape (``choose_attention_kernel``): the
choice depends only on the device type, the head width and the sequence length, so it is made once per
shape and is a constant for ``torch.compile``. FlashAttention works in tiles of 64-128 queries and pads the
head width up to its own minimum, which wastes most of its work on tiny attention such as the
Uplift-and-Upsample spatial stage (17 joint tokens, head width 4; measurements in ``docs/performance.md``).
So on CUDA, head widths below ``SMALL_HEAD_DIM`` or sequences shorter than ``SHORT_SEQUENCE`` use
``"einsum"`` (its logits are small there: ``B H L^2`` numbers); everything else uses ``"sdpa"``. On CPU
``"auto"`` is always ``"sdpa"``. Force one kernel on a built model with ``set_attention_backend`` (the
benchmarks do).

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
from torch.nn.attention import SDPBackend, sdpa_kernel

AttentionKernel = Literal["sdpa", "sdpa-no-flash", "einsum"]
AttentionBackend = Literal["auto", "sdpa", "sdpa-no-flash", "einsum"]
ATTENTION_KERNELS: tuple[str, ...] = ("sdpa", "sdpa-no-flash", "einsum")
ATTENTION_BACKENDS: tuple[str, ...] = ("auto", *ATTENTION_KERNELS)

SMALL_HEAD_DIM = 16
"""Head widths below this skip FlashAttention on CUDA (it pads the head width; Uplift's spatial heads are 4 wide)."""
SHORT_SEQUENCE = 64
"""Sequences shorter than this skip SDPA on CUDA: one flash tile (64-128 queries) would be mostly padding."""
NO_FLASH_BACKENDS = (SDPBackend.CUDNN_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH)
"""SDPA backends of the ``"sdpa-no-flash"`` kernel, in order of preference (math: the fallback, e.g. on CPU)."""


def choose_attention_kernel(device_type: str, head_dim: int, length: int) -> AttentionKernel:
    """The attention kernel ``"auto"`` uses for one call shape (module docstring for the reasons).

    Args:
        device_type: ``torch.device.type`` of the tokens (``"cuda"``, ``"cpu"``, ...).
        head_dim: ``D``, the width of one head.
        length: ``L``, the number of query (= key) positions.

    Returns:
        ``"einsum"`` on CUDA for ``head_dim < SMALL_HEAD_DIM`` or ``length < SHORT_SEQUENCE``, else ``"sdpa"``.
    """
    if device_type == "cuda" and (head_dim < SMALL_HEAD_DIM or length < SHORT_SEQUENCE):
        return "einsum"
    return "sdpa"


def attend(
    kernel: AttentionKernel,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    dropout: float = 0.0,
) -> torch.Tensor:
    """Scaled dot-product attention through ``kernel`` (shapes as ``einsum_attention``)."""
    if kernel == "einsum":
        return einsum_attention(query, key, value, attention_mask, dropout)
    if kernel == "sdpa-no-flash":
        with sdpa_kernel(list(NO_FLASH_BACKENDS), set_priority=True):
            return F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout)


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
        backend: ``"auto"`` (default: ``choose_attention_kernel`` per call shape) or one kernel of
            ``ATTENTION_KERNELS``; see ``set_attention_backend``.
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
        self.backend: AttentionBackend = "auto"

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
        kernel = self.backend
        if kernel == "auto":
            kernel = choose_attention_kernel(tokens.device.type, head_dim, length)
        attended = attend(kernel, query, key, value, attention_mask, dropout)
        attended = attended.transpose(1, 2).reshape(batch, length, width)  # (B, L, H, D) -> (B, L, C)
        return self.projection_dropout(self.projection(attended))


def set_attention_backend(model: nn.Module, backend: AttentionBackend) -> nn.Module:
    """Make every ``MultiHeadSelfAttention`` in ``model`` use ``backend``; weights are untouched.

    Args:
        model: Any module tree.
        backend: ``"auto"`` (the default of a new model) or a kernel of ``ATTENTION_KERNELS``.

    Returns:
        ``model`` itself, for chaining.
    """
    if backend not in ATTENTION_BACKENDS:
        raise ValueError(f"attention backend must be one of {ATTENTION_BACKENDS}, got {backend!r}")
    for module in model.modules():
        if isinstance(module, MultiHeadSelfAttention):
            module.backend = backend
    return model
