"""Transformer blocks written once and shared by the models: the vanilla block and the strided block.

``TransformerBlock`` is the pre-norm block of MixSTE, Uplift-and-Upsample and the Strided Transformer's
vanilla encoder; the models differ only in width, MLP activation, dropout and stochastic depth.
``StridedTransformerBlock`` is the Strided Transformer's reduction block (Li et al. 2022), also used by
Uplift-and-Upsample: attention, then a convolutional feed-forward network whose strided kernel-3
convolution shortens the sequence, with a subsampled ("max-pooled with kernel 1") residual.

Shape legend: ``B`` batch, ``L`` tokens, ``C`` width, ``L'`` tokens after a strided block.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lifting.models.attention import MultiHeadSelfAttention
from lifting.models.norms import NormFactory

Activation = Literal["gelu", "relu"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}


def linear_drop_path_rates(maximum: float, depth: int) -> list[float]:
    """Stochastic-depth rates growing linearly from 0 to ``maximum`` over ``depth`` blocks.

    Both MixSTE's and Uplift-and-Upsample's released codes spread the rate this way.

    Args:
        maximum: Rate of the last block.
        depth: Number of blocks.

    Returns:
        ``depth`` rates ``[0, ..., maximum]``; a single block gets 0.
    """
    if depth == 1:
        return [0.0]
    return [maximum * index / (depth - 1) for index in range(depth)]


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop a whole residual branch per sample while training.

    Kept samples are scaled by ``1 / (1 - rate)`` so the expectation is unchanged; identity at evaluation.
    """

    def __init__(self, rate: float = 0.0) -> None:
        """Create the layer.

        Args:
            rate: Probability of dropping a sample's branch, in [0, 1).
        """
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop-path rate must lie in [0, 1), got {rate}")
        self.rate = rate

    def forward(self, branch: torch.Tensor) -> torch.Tensor:
        """Drop or rescale ``branch`` (``(B, ...)``) per sample; returns the same shape."""
        if self.rate == 0.0 or not self.training:
            return branch
        keep = 1.0 - self.rate
        mask_shape = (branch.shape[0],) + (1,) * (branch.ndim - 1)
        mask = torch.empty(mask_shape, dtype=branch.dtype, device=branch.device).bernoulli_(keep)
        return branch * mask / keep

    def extra_repr(self) -> str:
        """Show the rate when the module is printed."""
        return f"rate={self.rate}"


class FeedForward(nn.Module):
    """Token-wise MLP ``C -> hidden -> C``: linear, activation, dropout, linear."""

    def __init__(self, dim: int, hidden_dim: int, activation: Activation, dropout: float = 0.0) -> None:
        """Create the layers.

        Args:
            dim: Input and output width ``C``.
            hidden_dim: Hidden width.
            activation: ``"gelu"`` (exact) or ``"relu"``.
            dropout: Dropout after the activation during training.
        """
        super().__init__()
        self.expand = nn.Linear(dim, hidden_dim)
        self.activation = _ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.reduce = nn.Linear(hidden_dim, dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Map ``(..., C)`` to ``(..., C)``."""
        return self.reduce(self.dropout(self.activation(self.expand(tokens))))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    Each residual branch has its own dropout and stochastic depth.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        hidden_dim: int,
        activation: Activation,
        qkv_bias: bool = True,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
        norm_eps: float = 1e-5,
        sparse_stride: int | None = None,
        norm: NormFactory = nn.LayerNorm,
    ) -> None:
        """Create the layers.

        Args:
            dim: Width ``C``.
            num_heads: Attention heads.
            hidden_dim: MLP hidden width.
            activation: MLP activation.
            qkv_bias: Whether the query/key/value projection has a bias.
            dropout: Dropout on each branch output and inside the MLP.
            attention_dropout: Dropout on attention weights.
            drop_path: Stochastic-depth rate of both branches.
            norm_eps: LayerNorm epsilon.
            sparse_stride: None for full attention, else the stride of strided sparse attention.
            norm: Norm layer class, called as ``norm(dim, eps=norm_eps)`` (``nn.LayerNorm`` or
                ``lifting.models.norms.StdEpsLayerNorm``).
        """
        super().__init__()
        self.attention_norm = norm(dim, eps=norm_eps)
        self.attention = MultiHeadSelfAttention(dim, num_heads, qkv_bias, attention_dropout, dropout, sparse_stride)
        self.mlp_norm = norm(dim, eps=norm_eps)
        self.mlp = FeedForward(dim, hidden_dim, activation, dropout)
        self.mlp_dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Transform ``(B, L, C)`` tokens.

        Args:
            tokens: ``(B, L, C)``.
            attention_mask: Boolean, broadcastable to ``(B, H, L, L)``; ``True`` keeps a key.

        Returns:
            ``(B, L, C)``.
        """
        tokens = tokens + self.drop_path(self.attention(self.attention_norm(tokens), attention_mask))
        return tokens + self.drop_path(self.mlp_dropout(self.mlp(self.mlp_norm(tokens))))


def strided_output_length(length: int, stride: int, padding: tuple[int, int], kernel_size: int = 3) -> int:
    """Tokens left after a strided block: ``floor((L + p0 + p1 - k) / s) + 1`` (0 if the kernel does not fit).

    Args:
        length: Input tokens ``L``.
        stride: Convolution stride ``s``.
        padding: Zero tokens added before and after ``(p0, p1)``.
        kernel_size: Convolution kernel ``k``.

    Returns:
        ``L'``.
    """
    padded = length + padding[0] + padding[1]
    return 0 if padded < kernel_size else (padded - kernel_size) // stride + 1


class StridedTransformerBlock(nn.Module):
    """Strided transformer block (Li et al. 2022, Sec. III-C): attention, then a strided convolutional FFN.

    The block adds its own learnable positional embedding (sliced to the current length), applies pre-norm
    attention with a residual, then ``LayerNorm -> Conv1d(k 1, C -> hidden) -> activation -> zero padding
    -> Conv1d(k, hidden -> C, stride s)``. The residual of the FFN keeps the input tokens at the centres
    of the strided kernels: the input trimmed by ``k // 2 - p`` tokens at each end, then every ``s``-th
    token (the released code's max pooling with kernel 1).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        hidden_dim: int,
        stride: int,
        padding: tuple[int, int],
        position_length: int,
        kernel_size: int = 3,
        activation: Activation = "relu",
        qkv_bias: bool = True,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        drop_path: float = 0.0,
        norm_eps: float = 1e-5,
        norm: NormFactory = nn.LayerNorm,
    ) -> None:
        """Create the layers.

        Args:
            dim: Width ``C``.
            num_heads: Attention heads.
            hidden_dim: Hidden width of the convolutional FFN.
            stride: Stride ``s`` of the kernel-``k`` convolution.
            padding: Zero tokens ``(p0, p1)`` added before the strided convolution, each ``<= k // 2``.
            position_length: Rows of the positional embedding (at least the input length).
            kernel_size: Odd kernel ``k`` of the strided convolution.
            activation: Activation between the two convolutions.
            qkv_bias: Whether the query/key/value projection has a bias.
            dropout: Dropout on each branch output and between the convolutions.
            attention_dropout: Dropout on attention weights.
            drop_path: Stochastic-depth rate of both branches.
            norm_eps: LayerNorm epsilon.
            norm: Norm layer class, called as ``norm(dim, eps=norm_eps)``.
        """
        super().__init__()
        if kernel_size % 2 != 1 or any(not 0 <= side <= kernel_size // 2 for side in padding):
            raise ValueError(
                f"strided block needs an odd kernel and paddings in [0, kernel // 2]; "
                f"got kernel {kernel_size}, padding {padding}"
            )
        self.stride = stride
        self.padding = tuple(padding)
        self.trim = (kernel_size // 2 - padding[0], kernel_size // 2 - padding[1])
        self.position = nn.Parameter(torch.zeros(position_length, dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.attention_norm = norm(dim, eps=norm_eps)
        self.attention = MultiHeadSelfAttention(dim, num_heads, qkv_bias, attention_dropout, dropout)
        self.ffn_norm = norm(dim, eps=norm_eps)
        self.expand = nn.Conv1d(dim, hidden_dim, kernel_size=1)
        self.activation = _ACTIVATIONS[activation]()
        self.ffn_dropout = nn.Dropout(dropout)
        self.reduce = nn.Conv1d(hidden_dim, dim, kernel_size=kernel_size, stride=stride)
        self.drop_path = DropPath(drop_path)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Shorten ``(B, L, C)`` to ``(B, L', C)``, ``L' = strided_output_length(L, s, padding, k)``.

        Args:
            tokens: ``(B, L, C)``, ``L <= position_length``.

        Returns:
            ``(B, L', C)``.
        """
        length = tokens.shape[1]
        tokens = tokens + self.position[:length]
        tokens = tokens + self.drop_path(self.attention(self.attention_norm(tokens)))
        hidden = self.ffn_norm(tokens).transpose(1, 2)  # (B, C, L): channels first for Conv1d
        hidden = self.ffn_dropout(self.activation(self.expand(hidden)))  # (B, hidden, L)
        hidden = self.reduce(F.pad(hidden, self.padding))  # (B, C, L')
        residual = tokens[:, self.trim[0] : length - self.trim[1] : self.stride]  # (B, L', C)
        return residual + self.drop_path(self.ffn_dropout(hidden.transpose(1, 2)))
