"""MixSTE (Zhang et al., CVPR 2022): alternating spatial and temporal transformer blocks, seq2seq.

Every joint of every frame is one token. A spatial block attends over the ``J`` joints of each frame, a
temporal block over the ``T`` frames of each joint; ``depth`` loops of (spatial, temporal) blocks, then a
per-token head regresses the 3D joint. Architecture facts come from the paper (Sec. 3, Table 7) and its
released code as recorded in ``docs/references.md``; the parameter count reproduces the paper's
33.78 M at T = 243 (33,783,811).

Shape legend: ``B`` batch, ``T`` frames (``T <= max_frames``), ``J`` joints, ``C`` input channels, ``D`` width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lifting.models.blocks import TransformerBlock, linear_drop_path_rates
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

BLOCK_NORM_EPS = 1e-6
"""LayerNorm epsilon inside the blocks and of the shared norms after them (released code, docs/references.md)."""

HEAD_NORM_EPS = 1e-5
"""LayerNorm epsilon of the regression head (released code, docs/references.md)."""


@dataclass(frozen=True)
class MixSTEConfig(EveryFrameKeypointModel):
    """MixSTE hyper-parameters; defaults are the paper's Human3.6M model (T = 243).

    Attributes:
        skeleton: ``datasets.skeletons`` name giving the joint count.
        input_channels: Channels per joint (2 for 2D keypoints; 5 under TMT).
        max_frames: Longest window ``T``; rows of the temporal positional embedding.
        dim: Token width d_m.
        depth: Loops d_l of (spatial, temporal) blocks.
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width over ``dim``.
        qkv_bias: Whether the query/key/value projections have a bias.
        dropout: Dropout on residual branches and positional embeddings.
        attention_dropout: Dropout on attention weights.
        drop_path: Stochastic-depth rate of the last loop (linear from 0).
    """

    skeleton: str = "h36m17"
    input_channels: int = 2
    max_frames: int = 243  # MixSTE, Table 7 / Sec. 4.2: T = 243 on Human3.6M
    dim: int = 512  # MixSTE, Table 7: d_m = 512
    depth: int = 8  # MixSTE, Table 7: d_l = 8
    num_heads: int = 8  # released code (docs/references.md): 8 heads
    mlp_ratio: float = 2.0  # released code (docs/references.md): MLP 512 -> 1024 -> 512
    qkv_bias: bool = True  # released code (docs/references.md)
    # MixSTE, Sec. 4.2 says "dropout rate 0.1"; the released code applies 0.1 as stochastic depth
    # (drop_path_rate) and no plain dropout, which is what we do.
    dropout: float = 0.0
    attention_dropout: float = 0.0
    drop_path: float = 0.1

    def __post_init__(self) -> None:
        """Validate the configuration; each message names the rule and the value."""
        require_known_skeleton(self.skeleton)
        for name in ("input_channels", "max_frames", "dim", "depth", "num_heads", "mlp_ratio"):
            require_positive(name, getattr(self, name))
        require_divisible("dim", self.dim, self.num_heads)
        for name in ("dropout", "attention_dropout", "drop_path"):
            require_rate(name, getattr(self, name))

    # What the trainer needs (``common.LiftingModelConfig``) beyond ``EveryFrameKeypointModel``: a seq2seq window of T.
    @property
    def window_frames(self) -> int:
        """Input frames of a training window: ``max_frames`` (T)."""
        return self.max_frames

    @property
    def output_kind(self) -> OutputKind:
        """``"seq2seq"``: one pass predicts every frame of the window (the paper's seq2seq design)."""
        return "seq2seq"


class MixSTE(nn.Module):
    """MixSTE: per-joint embedding, ``depth`` loops of spatial then temporal attention, per-token head."""

    config_class = MixSTEConfig

    def __init__(self, config: MixSTEConfig) -> None:
        """Build the network.

        Args:
            config: The hyper-parameters.
        """
        super().__init__()
        self.config = config
        self.num_joints = skeleton_joint_count(config.skeleton)
        width = config.dim
        hidden = round(config.mlp_ratio * width)
        self.joint_embedding = nn.Linear(config.input_channels, width)
        # Both positional embeddings start at zero (released code, docs/references.md) and are added once.
        self.spatial_position = nn.Parameter(torch.zeros(self.num_joints, width))
        self.temporal_position = nn.Parameter(torch.zeros(config.max_frames, width))
        self.position_dropout = nn.Dropout(config.dropout)
        rates = linear_drop_path_rates(config.drop_path, config.depth)

        def block(rate: float) -> TransformerBlock:
            return TransformerBlock(
                width,
                config.num_heads,
                hidden,
                activation="gelu",
                qkv_bias=config.qkv_bias,
                dropout=config.dropout,
                attention_dropout=config.attention_dropout,
                drop_path=rate,
                norm_eps=BLOCK_NORM_EPS,
            )

        self.spatial_blocks = nn.ModuleList(block(rate) for rate in rates)
        self.temporal_blocks = nn.ModuleList(block(rate) for rate in rates)
        # One norm shared by all spatial blocks and one by all temporal blocks (released code, docs/references.md).
        self.spatial_norm = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)
        self.temporal_norm = nn.LayerNorm(width, eps=BLOCK_NORM_EPS)
        self.head = nn.Sequential(nn.LayerNorm(width, eps=HEAD_NORM_EPS), nn.Linear(width, 3))

    def output_frames_per_forward(self, frames: int | None = None) -> int:
        """Output poses one forward pass yields (seq2seq: every input frame); for FLOPs per output frame."""
        return self.config.max_frames if frames is None else frames

    def example_inputs(self, batch_size: int = 1, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """Zero keypoints of the configured maximum window: ``{"keypoints": (B, max_frames, J, C)}``."""
        shape = (batch_size, self.config.max_frames, self.num_joints, self.config.input_channels)
        return {"keypoints": torch.zeros(shape, device=device)}

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        """Lift a window of 2D keypoints to root-relative 3D poses for every frame.

        Args:
            keypoints: ``(B, T, J, C)`` float, screen-normalised to [-1, 1] (C = 2; 5 under TMT),
                ``T <= max_frames``.

        Returns:
            ``LiftingOutput``: ``sequence`` ``(B, T, J, 3)`` metres, root-relative, camera frame;
            ``centre`` ``(B, J, 3)``, the sequence at frame ``T // 2``.
        """
        check_keypoints(keypoints, self.num_joints, self.config.input_channels)
        batch, frames, joints, _ = keypoints.shape
        if frames > self.config.max_frames:
            raise ValueError(f"MixSTE takes windows of at most max_frames={self.config.max_frames}, got T={frames}")
        width = self.config.dim
        tokens = self.joint_embedding(keypoints) + self.spatial_position  # (B, T, J, D)
        tokens = self.position_dropout(tokens).reshape(batch * frames, joints, width)  # (B*T, J, D)
        for loop, (spatial, temporal) in enumerate(zip(self.spatial_blocks, self.temporal_blocks, strict=True)):
            tokens = self.spatial_norm(spatial(tokens))  # attention over joints: (B*T, J, D)
            # (B*T, J, D) -> (B, T, J, D) -> (B, J, T, D) -> (B*J, T, D): one sequence per joint
            tokens = tokens.reshape(batch, frames, joints, width).transpose(1, 2).reshape(batch * joints, frames, width)
            if loop == 0:
                tokens = self.position_dropout(tokens + self.temporal_position[:frames])
            tokens = self.temporal_norm(temporal(tokens))  # attention over frames: (B*J, T, D)
            # (B*J, T, D) -> (B, J, T, D) -> (B, T, J, D) -> (B*T, J, D): back to one sequence per frame
            tokens = tokens.reshape(batch, joints, frames, width).transpose(1, 2).reshape(batch * frames, joints, width)
        sequence = self.head(tokens).reshape(batch, frames, joints, 3)  # (B, T, J, 3)
        return LiftingOutput(sequence=sequence, centre=sequence[:, frames // 2])
