"""Normalisation layers that are not ``torch.nn.LayerNorm``.

``StdEpsLayerNorm`` is the layer normalisation of the Strided Transformer's released code (Li et al. 2022):
``weight * (x - mean) / (std + eps) + bias``, with the *unbiased* (Bessel-corrected) standard deviation and
epsilon added *outside* the square root. ``nn.LayerNorm`` computes ``(x - mean) / sqrt(var + eps)`` with the
biased variance; at width ``D`` the two differ by the factor ``sqrt((D - 1) / D)`` (about 0.2 % at ``D = 256``),
a systematic scale, not rounding, so a model meant to equal the released one uses this module.

Shape legend: ``...`` any leading dimensions, ``D`` the normalised width.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

NormFactory = Callable[..., nn.Module]
"""Builds a norm layer from ``(width, eps=...)``: ``nn.LayerNorm`` or ``StdEpsLayerNorm``."""


class StdEpsLayerNorm(nn.Module):
    """Layer norm dividing by ``unbiased std + eps``: ``weight * (x - mean) / (std + eps) + bias``.

    Its parameters are named and shaped as ``nn.LayerNorm``'s (``weight``, ``bias``: ``(D,)``, ones and
    zeros), so state dicts move between the two.
    """

    def __init__(self, width: int, eps: float = 1e-6) -> None:
        """Create the gain and bias.

        Args:
            width: ``D``, the size of the last dimension; must be at least 2 (the unbiased std needs two values).
            eps: Added to the standard deviation (not the variance).
        """
        super().__init__()
        if width < 2:
            raise ValueError(f"StdEpsLayerNorm needs width >= 2 for an unbiased std, got {width}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Normalise ``(..., D)`` over its last dimension; returns ``(..., D)``."""
        mean = tokens.mean(dim=-1, keepdim=True)
        std = tokens.std(dim=-1, keepdim=True, correction=1)
        return self.weight * (tokens - mean) / (std + self.eps) + self.bias

    def extra_repr(self) -> str:
        """Show the width and epsilon when the module is printed."""
        return f"{self.weight.shape[0]}, eps={self.eps}"
