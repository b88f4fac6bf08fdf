"""Strided Transformer (Li et al., TMM 2022), with the strided-lifting seed's sparse-attention variant.

The ``N`` frames of a window are embedded as pose tokens (a kernel-1 convolution over the ``J * C``
joint channels), passed through a vanilla transformer encoder (VTE) whose output a head turns into the
full 3D sequence, then through strided transformer blocks (STE) that shrink the sequence to the centre
frame for a second head ("full-to-single" supervision). Architecture facts from the paper and its
released code are recorded in ``docs/references.md``; parameter counts reproduce the figures the
Uplift-and-Upsample paper cites (4.34 M at N = 351, 4.06 M at N = 81).

The strided-lifting seed (``docs/references.md``, Sec. 4.2) replaces the VTE's full attention by factorised
"strided" sparse attention: ``vte_attention="strided_sparse"``.

Shape legend: ``B`` batch, ``N`` frames, ``J`` joints, ``C`` input channels, ``D`` width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lifting.models.blocks import StridedTransformerBlock, TransformerBlock, strided_output_length
from lifting.models.common import (
    EveryFrameKeypointModel,
    LiftingOutput,
    OutputKind,
    check_keypoints,
    require_divisible,
    require_known_skeleton,
    require_positive,
    require_rate,
    skeleton_joint_count,
)
from lifting.models.norms import StdEpsLayerNorm

NORM_EPS = 1e-6
"""Epsilon of the released code's layer norm (docs/references.md), which divides by the unbiased standard deviation plus
epsilon: ``StdEpsLayerNorm``, used in every block so the network computes the released function."""

STRIDED_KERNEL_SIZE = 3
"""Kernel of the strided convolution, k_m = 3 (seed Sec. 5.2, the base model's setup)."""

STRIDED_PADDING = (1, 1)
"""Zero padding of the strided convolution (released code: ``padding=1``)."""


@dataclass(frozen=True)
class StridedTransformerConfig(EveryFrameKeypointModel):
    """Strided Transformer hyper-parameters; defaults are the paper's 351-frame Human3.6M model.

    Attributes:
        skeleton: ``datasets.skeletons`` name giving the joint count.
        input_channels: Channels per joint (2; 5 under TMT).
        frames: Window length ``N`` (fixed: the strides reduce exactly ``N`` frames to one).
        dim: Token width d_m.
        ffn_dim: Hidden width d_f of both encoders' feed-forward networks.
        num_heads: Attention heads.
        vanilla_depth: VTE layers N1.
        strides: Stride of each STE layer (N2 = len(strides)); they must reduce ``frames`` to 1.
        dropout: Dropout on residual branches and inside the FFNs.
        attention_dropout: Dropout on attention weights.
        embedding_dropout: Dropout after the pose embedding.
        vte_attention: ``"full"`` (Li et al.) or ``"strided_sparse"`` (the seed's variant).
        sparse_stride: ``l`` of strided sparse attention; None picks ``round(sqrt(frames))`` (seed Sec. 4.2).
    """

    skeleton: str = "h36m17"
    input_channels: int = 2
    frames: int = 351  # seed Sec. 5.3 (the 351-frame base model) / Uplift-and-Upsample Table 4: N = 351
    dim: int = 256  # seed Sec. 5.2 (the base model's setup): d_m = 256
    ffn_dim: int = 512  # seed Sec. 5.2 (the base model's setup): d_f = 512
    num_heads: int = 8  # seed Sec. 5.2 (the base model's setup): h = 8
    vanilla_depth: int = 3  # seed Sec. 5.2 (the base model's setup): N1 = 3
    strides: tuple[int, ...] = (3, 9, 13)  # released code for N = 351 (docs/references.md); N2 = 3 layers
    dropout: float = 0.1  # released code default (Transformer(..., dropout=0.1))
    attention_dropout: float = 0.1  # released code default (MultiHeadedAttention dropout 0.1)
    embedding_dropout: float = 0.25  # released code (docs/references.md): Dropout 0.25 after the pose embedding
    vte_attention: Literal["full", "strided_sparse"] = "full"
    sparse_stride: int | None = None

    def __post_init__(self) -> None:
        """Validate the configuration; each message names the rule and the value."""
        require_known_skeleton(self.skeleton)
        for name in ("input_channels", "frames", "dim", "ffn_dim", "num_heads", "vanilla_depth"):
            require_positive(name, getattr(self, name))
        require_divisible("dim", self.dim, self.num_heads)
        for name in ("dropout", "attention_dropout", "embedding_dropout"):
            require_rate(name, getattr(self, name))
        if not self.strides or any(stride < 1 for stride in self.strides):
            raise ValueError(f"strides must be a non-empty sequence of positive integers, got {self.strides}")
        lengths = self.strided_lengths
        if lengths[-1] != 1:
            raise ValueError(
                f"strides must reduce frames={self.frames} to one token; {list(self.strides)} gives lengths {lengths}"
            )
        if self.vte_attention not in ("full", "strided_sparse"):
            raise ValueError(f"vte_attention must be 'full' or 'strided_sparse', got {self.vte_attention!r}")
        if self.vte_attention == "strided_sparse" and self.num_heads % 2 != 0:
            raise ValueError(f"strided sparse attention needs an even num_heads, got {self.num_heads}")
        if self.sparse_stride is not None and self.sparse_stride < 1:
            raise ValueError(f"sparse_stride must be positive or None, got {self.sparse_stride}")

    @property
    def strided_lengths(self) -> list[int]:
        """Sequence length entering the STE and after each of its layers, e.g. [351, 117, 13, 1]."""
        lengths = [self.frames]
        for stride in self.strides:
            lengths.append(strided_output_length(lengths[-1], stride, STRIDED_PADDING, STRIDED_KERNEL_SIZE))
        return lengths

    @property
    def effective_sparse_stride(self) -> int:
        """``l`` of strided sparse attention: ``sparse_stride`` or ``round(sqrt(frames))``."""
        return self.sparse_stride if self.sparse_stride is not None else max(1, round(math.sqrt(self.frames)))

    # What the trainer needs (``common.LiftingModelConfig``) beyond ``EveryFrameKeypointModel``: N frames, centre.
    @property
    def window_frames(self) -> int:
        """Input frames of a window: ``frames`` (N)."""
        return self.frames

    @property
    def output_kind(self) -> OutputKind:
        """``"centre"``: full-to-single: the centre head's pose is the prediction."""
        return "centre"


class PoseRegressionHead(nn.Module):
    """BatchNorm then a kernel-1 convolution ``D -> J * 3`` over a token sequence (released code)."""

    def __init__(self, dim: int, joints: int) -> None:
        """Create the layers for ``dim``-wide tokens and ``joints`` output joints."""
        super().__init__()
        self.joints = joints
        self.norm = nn.BatchNorm1d(dim)
        self.regress = nn.Conv1d(dim, joints * 3, kernel_size=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Map ``(B, L, D)`` tokens to ``(B, L, J, 3)`` poses (channels ordered joint-major, then xyz)."""
        batch, length, _ = tokens.shape
        poses = self.regress(self.norm(tokens.transpose(1, 2)))  # (B, J*3, L)
        return poses.transpose(1, 2).reshape(batch, length, self.joints, 3)


def _vanilla_block(config: StridedTransformerConfig) -> TransformerBlock:
    """One VTE layer: full or strided sparse attention, ReLU FFN, the released code's norm."""
    return TransformerBlock(
        config.dim,
        config.num_heads,
        config.ffn_dim,
        activation="relu",
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        norm_eps=NORM_EPS,
        norm=StdEpsLayerNorm,
        sparse_stride=config.effective_sparse_stride if config.vte_attention == "strided_sparse" else None,
    )


def _strided_block(config: StridedTransformerConfig, stride: int) -> StridedTransformerBlock:
    """One STE layer of ``stride``, with its own full-length (N x D) positional embedding."""
    return StridedTransformerBlock(
        config.dim,
        config.num_heads,
        config.ffn_dim,
        stride=stride,
        padding=STRIDED_PADDING,
        position_length=config.frames,
        kernel_size=STRIDED_KERNEL_SIZE,
        activation="relu",
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        norm_eps=NORM_EPS,
        norm=StdEpsLayerNorm,
    )


class StridedTransformer(nn.Module):
    """Strided Transformer: pose embedding, vanilla encoder + sequence head, strided encoder + centre head."""

    config_class = StridedTransformerConfig

    def __init__(self, config: StridedTransformerConfig) -> None:
        """Build the network.

        Args:
            config: The hyper-parameters.
        """
        super().__init__()
        self.config = config
        self.num_joints = skeleton_joint_count(config.skeleton)
        width = config.dim
        self.embedding = nn.Sequential(
            nn.Conv1d(self.num_joints * config.input_channels, width, kernel_size=1),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.Dropout(config.embedding_dropout),
        )
        self.vanilla_position = nn.Parameter(torch.zeros(config.frames, width))
        # Truncated normal, std 0.02, for every positional embedding (here and in each strided block): our choice.
        # The released code draws them from torch.randn (std 1), which is the one deliberate difference from it.
        nn.init.trunc_normal_(self.vanilla_position, std=0.02)
        self.vanilla_blocks = nn.ModuleList(_vanilla_block(config) for _ in range(config.vanilla_depth))
        # The released encoders create a final norm each but never apply it: kept as parameters (state dicts and
        # parameter counts match the released model's), not called in forward (so the function matches too),
        # and frozen, since they get no gradient: the optimizer skips them as the released one does (no grad),
        # and DistributedDataParallel does not wait for their gradients.
        self.vanilla_norm = StdEpsLayerNorm(width, eps=NORM_EPS).requires_grad_(False)
        # Every STE layer owns a full-length (N x D) positional embedding sliced to its input length, as
        # the released code does; this is what reproduces the published parameter counts.
        self.strided_blocks = nn.ModuleList(_strided_block(config, stride) for stride in config.strides)
        self.strided_norm = StdEpsLayerNorm(width, eps=NORM_EPS).requires_grad_(False)  # never applied, as above
        self.sequence_head = PoseRegressionHead(width, self.num_joints)
        self.centre_head = PoseRegressionHead(width, self.num_joints)

    def output_frames_per_forward(self) -> int:
        """Output poses one forward pass yields at inference: the centre frame only."""
        return 1

    def example_inputs(self, batch_size: int = 1, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """Zero keypoints of one window: ``{"keypoints": (B, N, J, C)}``."""
        shape = (batch_size, self.config.frames, self.num_joints, self.config.input_channels)
        return {"keypoints": torch.zeros(shape, device=device)}

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        """Lift a window of 2D keypoints to the full 3D sequence and the centre pose.

        Args:
            keypoints: ``(B, N, J, C)`` float, screen-normalised to [-1, 1] (C = 2; 5 under TMT).

        Returns:
            ``LiftingOutput``: ``sequence`` ``(B, N, J, 3)`` from the VTE, ``centre`` ``(B, J, 3)`` from the
            STE; metres, root-relative, camera frame.
        """
        config = self.config
        check_keypoints(keypoints, self.num_joints, config.input_channels, frames=config.frames)
        batch, frames, joints, channels = keypoints.shape
        # (B, N, J, C) -> (B, N, J*C) joint-major -> (B, J*C, N): channels first for the Conv1d embedding
        tokens = self.embedding(keypoints.reshape(batch, frames, joints * channels).transpose(1, 2))
        tokens = tokens.transpose(1, 2) + self.vanilla_position  # (B, N, D)
        for block in self.vanilla_blocks:
            tokens = block(tokens)  # full, or strided sparse attention (vte_attention)
        sequence = self.sequence_head(tokens)  # (B, N, J, 3); no vanilla_norm, as in the released code
        for block in self.strided_blocks:
            tokens = block(tokens)  # (B, L, D) -> (B, L', D), ending at (B, 1, D)
        centre = self.centre_head(tokens)[:, 0]  # (B, 1, J, 3) -> (B, J, 3); no strided_norm (released code)
        return LiftingOutput(sequence=sequence, centre=centre)
