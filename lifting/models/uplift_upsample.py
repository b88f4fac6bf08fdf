"""Uplift-and-Upsample (Einfalt et al., WACV 2023): sparse 2D key-frames in, dense 3D poses out.

A window of ``N`` frames is represented by ``N_tok = (N - 1) / s_out + 1`` tokens, one every ``s_out``
frames. Only key-frames (every ``s_in``-th frame, ``s_in`` a multiple of ``s_out``) carry a 2D pose; the
others get a learnable upsampling token. Stages (Sec. 3.2, Fig. 3):

1. joint-wise spatial transformer, shared by all tokens: per-joint embedding + joint positional embedding,
   ``joint_depth`` blocks over the ``J`` joints, then the ``J x d_joint`` features flattened into one
   pose token of width ``d_temp``;
2. upsampling: non-key-frame pose tokens replaced by the upsampling token, a temporal positional embedding
   added; ``temporal_depth`` blocks over the tokens, the first one taking keys and values from key-frame
   tokens only; a linear head gives the 3D pose of every token (the sequence output);
3. strided transformer blocks shrink the tokens to one, and a linear head gives the centre-frame pose.

One model serves every input stride it was trained with: the stride only changes the key-frame mask.
Facts from the released code (configs h36m_351 / h36m_81) are in ``docs/references.md``; the parameter
counts reproduce the paper's Table 4 for the model without its sequence head (10.39 M / 10.36 M).

Shape legend: ``B`` batch, ``N`` tokens (``N_tok``), ``J`` joints, ``C`` input channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from datasets.window_arithmetic import window_tokens
from lifting.models.blocks import (
    StridedTransformerBlock,
    TransformerBlock,
    linear_drop_path_rates,
    strided_output_length,
)
from lifting.models.common import (
    LiftingOutput,
    OutputKind,
    check_keypoints,
    keypoint_inputs,
    require_divisible,
    require_known_skeleton,
    require_positive,
    require_rate,
    skeleton_joint_count,
)

BLOCK_NORM_EPS = 1e-5
"""LayerNorm epsilon inside every block (released code, docs/references.md)."""

JOINT_STAGE_NORM_EPS = 1e-6
"""Epsilon of the LayerNorm closing the spatial stage (released code, docs/references.md)."""

STRIDED_KERNEL_SIZE = 3
"""Kernel of the strided convolutions (Sec. 3.2: "strided convolution ... kernel size 3")."""

EMBEDDING_INIT_STD = 0.02
"""Truncated-normal standard deviation of the upsampling token (released code, docs/references.md); we initialise the
joint and temporal positional embeddings the same way."""


def key_frame_mask(
    num_tokens: int,
    output_stride: int,
    input_stride: int,
    first_frame: int | torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Which tokens of a window are key-frames (carry a 2D pose) for a given input stride.

    Token ``i`` shows frame ``first_frame + i * output_stride``; it is a key-frame when that frame index is a
    multiple of ``input_stride`` (Sec. 3.1: key-frames at ``t mod s_in = 0``; at evaluation ``first_frame``
    is the window's global start frame).

    Args:
        num_tokens: Tokens per window ``N``.
        output_stride: ``s_out`` in frames.
        input_stride: ``s_in`` in frames, a multiple of ``s_out``.
        first_frame: Global frame index of token 0, an int or a ``(B,)`` integer tensor. None centres the
            pattern: the centre token is a key-frame.
        device: Where to create the mask.

    Returns:
        ``(B, N)`` bool (``B = 1`` for an int or None).
    """
    if input_stride % output_stride != 0:
        raise ValueError(
            f"input stride must be a multiple of the output stride; got s_in={input_stride}, s_out={output_stride}"
        )
    if first_frame is None:
        first_frame = -(num_tokens // 2) * output_stride
    start = torch.as_tensor(first_frame, device=device).reshape(-1, 1)  # (B, 1)
    frames = start + torch.arange(num_tokens, device=start.device) * output_stride  # (B, N)
    return torch.remainder(frames, input_stride) == 0


@dataclass(frozen=True)
class UpliftUpsampleConfig:
    """Uplift-and-Upsample hyper-parameters; defaults are the paper's N = 351 Human3.6M model.

    Attributes:
        skeleton: ``datasets.skeletons`` name giving the joint count.
        input_channels: Channels per joint (2).
        receptive_field: Window length ``N`` in frames.
        output_stride: ``s_out``: frames between output tokens.
        input_strides: Every ``s_in`` the model accepts (multiples of ``s_out``).
        joint_dim: d_joint, width of the spatial stage.
        joint_depth: K_joint spatial blocks.
        joint_heads: Heads of the spatial blocks.
        temporal_dim: d_temp, width of the pose tokens.
        temporal_depth: K_temp temporal blocks.
        temporal_heads: Heads of the temporal and strided blocks.
        mlp_ratio: MLP hidden width over the block width (all stages).
        strides: Stride r_k of each strided block (K_strided = len(strides)); must reduce the tokens to 1.
        paddings: Zero tokens ``(before, after)`` of each strided convolution.
        qkv_bias: Whether the query/key/value projections have a bias.
        joint_drop_path: Stochastic depth of the spatial stage (linear over its blocks).
        temporal_drop_path: Stochastic depth of the temporal stage.
        strided_drop_path: Stochastic depth of the strided stage.
    """

    skeleton: str = "h36m17"
    input_channels: int = 2
    receptive_field: int = 351  # Sec. 4.2: N in {81, 351}
    output_stride: int = 5  # Sec. 4.2: s_out = 5 for N = 351
    input_strides: tuple[int, ...] = (5, 10, 20)  # Sec. 4.2: s_in in [5, 10, 20] for N = 351
    joint_dim: int = 32  # Sec. 4.2: d_joint = 32
    joint_depth: int = 4  # Sec. 4.2: K_joint = 4
    joint_heads: int = 8  # released configs (docs/references.md)
    # Sec. 4.2 prints d_temp = 348; every released config uses 384, the only width that reproduces the
    # published parameter counts (docs/references.md).
    temporal_dim: int = 384
    temporal_depth: int = 4  # Sec. 4.2: K_temp = 4
    temporal_heads: int = 8  # released configs (docs/references.md)
    mlp_ratio: float = 2.0  # released configs (docs/references.md)
    strides: tuple[int, ...] = (3, 10, 3)  # released config h36m_351: 71 -> 23 -> 3 -> 1; K_strided = 3
    paddings: tuple[tuple[int, int], ...] = ((0, 0), (0, 0), (0, 0))  # released config h36m_351
    qkv_bias: bool = True  # released configs (docs/references.md)
    joint_drop_path: float = 0.1  # Sec. 4.2: stochastic depth 0.1 (spatial)
    temporal_drop_path: float = 0.1  # Sec. 4.2: stochastic depth 0.1 (temporal)
    strided_drop_path: float = 0.0  # released configs: 0.0 (strided)

    def __post_init__(self) -> None:
        """Validate the configuration; each message names the rule and the value."""
        require_known_skeleton(self.skeleton)
        for name in ("input_channels", "receptive_field", "output_stride", "joint_dim", "joint_depth",
                     "joint_heads", "temporal_dim", "temporal_depth", "temporal_heads", "mlp_ratio"):  # fmt: skip
            require_positive(name, getattr(self, name))
        require_divisible("joint_dim", self.joint_dim, self.joint_heads)
        require_divisible("temporal_dim", self.temporal_dim, self.temporal_heads)
        for name in ("joint_drop_path", "temporal_drop_path", "strided_drop_path"):
            require_rate(name, getattr(self, name))
        if (self.receptive_field - 1) % self.output_stride != 0:
            raise ValueError(
                f"receptive_field - 1 must be a multiple of output_stride so tokens fall on frames; "
                f"got receptive_field={self.receptive_field}, output_stride={self.output_stride}"
            )
        if not self.input_strides or any(s < 1 or s % self.output_stride for s in self.input_strides):
            raise ValueError(
                f"input_strides must be positive multiples of output_stride={self.output_stride}, "
                f"got {self.input_strides}"
            )
        if len(self.paddings) != len(self.strides) or any(len(pair) != 2 for pair in self.paddings):
            raise ValueError(
                f"paddings must hold one (before, after) pair per stride; got {self.paddings} for {self.strides}"
            )
        if not self.strides or any(s < 1 for s in self.strides):
            raise ValueError(f"strides must be a non-empty sequence of positive integers, got {self.strides}")
        if any(not 0 <= side <= STRIDED_KERNEL_SIZE // 2 for pair in self.paddings for side in pair):
            raise ValueError(f"paddings must lie in [0, {STRIDED_KERNEL_SIZE // 2}], got {self.paddings}")
        if self.strided_lengths[-1] != 1:
            raise ValueError(
                f"strides {list(self.strides)} with paddings {list(self.paddings)} must reduce "
                f"{self.num_tokens} tokens to 1; they give lengths {self.strided_lengths}"
            )

    @property
    def num_tokens(self) -> int:
        """Tokens per window (``datasets.window_arithmetic.window_tokens``: 71 for N = 351, s_out = 5)."""
        return window_tokens(self.receptive_field, self.output_stride)

    @property
    def strided_lengths(self) -> list[int]:
        """Tokens entering the strided stage and after each block, e.g. [71, 23, 3, 1]."""
        lengths = [self.num_tokens]
        for stride, padding in zip(self.strides, self.paddings, strict=True):
            lengths.append(strided_output_length(lengths[-1], stride, tuple(padding), STRIDED_KERNEL_SIZE))
        return lengths

    # What the trainer needs (``common.LiftingModelConfig``); ``output_stride`` and ``input_strides`` are fields.
    @property
    def window_frames(self) -> int:
        """Input frames of a window: ``receptive_field`` (N)."""
        return self.receptive_field

    @property
    def output_kind(self) -> OutputKind:
        """``"centre"``: the strided stage's centre pose is the prediction."""
        return "centre"

    @property
    def needs_velocity_input(self) -> bool:
        """False: keypoints and the key-frame mask."""
        return False

    def forward_inputs(
        self, batch: Mapping[str, torch.Tensor], ground_truth_velocity: bool = False
    ) -> dict[str, torch.Tensor | None]:
        """``{"keypoints": (B, N_tok, J, C), "key_frame_mask": (B, N_tok)}`` from the batch."""
        return {**keypoint_inputs(batch, ground_truth_velocity), "key_frame_mask": batch["key_frame_mask"]}


class UpliftUpsample(nn.Module):
    """Uplift-and-Upsample: spatial stage per token, masked temporal upsampling, strided reduction."""

    config_class = UpliftUpsampleConfig

    def __init__(self, config: UpliftUpsampleConfig) -> None:
        """Build the network.

        Args:
            config: The hyper-parameters.
        """
        super().__init__()
        self.config = config
        self.num_joints = skeleton_joint_count(config.skeleton)
        joint_dim, temporal_dim = config.joint_dim, config.temporal_dim
        joint_hidden = round(config.mlp_ratio * joint_dim)
        temporal_hidden = round(config.mlp_ratio * temporal_dim)

        self.joint_embedding = nn.Linear(config.input_channels, joint_dim)
        self.joint_position = nn.Parameter(torch.zeros(self.num_joints, joint_dim))
        self.joint_blocks = nn.ModuleList(
            TransformerBlock(joint_dim, config.joint_heads, joint_hidden, "gelu", config.qkv_bias,
                             drop_path=rate, norm_eps=BLOCK_NORM_EPS)
            for rate in linear_drop_path_rates(config.joint_drop_path, config.joint_depth)
        )  # fmt: skip
        self.joint_norm = nn.LayerNorm(joint_dim, eps=JOINT_STAGE_NORM_EPS)
        self.pose_projection = nn.Linear(self.num_joints * joint_dim, temporal_dim)

        self.upsampling_token = nn.Parameter(torch.zeros(temporal_dim))
        self.temporal_position = nn.Parameter(torch.zeros(config.num_tokens, temporal_dim))
        self.temporal_blocks = nn.ModuleList(
            TransformerBlock(temporal_dim, config.temporal_heads, temporal_hidden, "relu", config.qkv_bias,
                             drop_path=rate, norm_eps=BLOCK_NORM_EPS)
            for rate in linear_drop_path_rates(config.temporal_drop_path, config.temporal_depth)
        )  # fmt: skip
        self.sequence_head = nn.Linear(temporal_dim, self.num_joints * 3)

        strided_rates = linear_drop_path_rates(config.strided_drop_path, len(config.strides))
        self.strided_blocks = nn.ModuleList(
            StridedTransformerBlock(
                temporal_dim,
                config.temporal_heads,
                temporal_hidden,
                stride=stride,
                padding=tuple(padding),
                position_length=length,  # each block's embedding covers its own input length
                kernel_size=STRIDED_KERNEL_SIZE,
                activation="relu",
                qkv_bias=config.qkv_bias,
                drop_path=rate,
                norm_eps=BLOCK_NORM_EPS,
            )
            for stride, padding, length, rate in zip(
                config.strides, config.paddings, config.strided_lengths, strided_rates, strict=False
            )
        )
        self.centre_head = nn.Linear(temporal_dim, self.num_joints * 3)
        for embedding in (self.joint_position, self.upsampling_token, self.temporal_position):
            nn.init.trunc_normal_(embedding, std=EMBEDDING_INIT_STD)

    def output_frames_per_forward(self) -> int:
        """Output frames one forward pass covers at inference: the centre pose, every ``s_out`` frames (Sec. 4.4)."""
        return self.config.output_stride

    def key_frame_mask(
        self, input_stride: int, batch_size: int = 1, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Centred key-frame mask ``(B, N)`` for one of the configured input strides."""
        if input_stride not in self.config.input_strides:
            raise ValueError(
                f"input stride {input_stride} is not one of the configured input_strides {self.config.input_strides}"
            )
        mask = key_frame_mask(self.config.num_tokens, self.config.output_stride, input_stride, device=device)
        return mask.expand(batch_size, -1)

    def example_inputs(self, batch_size: int = 1, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """Zero keypoints ``(B, N, J, C)`` and the centred key-frame mask ``(B, N)`` of the largest input stride.

        The largest stride is the paper's headline setting (Table 4: s_in = 20) and leaves upsampling tokens in
        the window; FLOPs do not depend on the mask.
        """
        shape = (batch_size, self.config.num_tokens, self.num_joints, self.config.input_channels)
        mask = self.key_frame_mask(max(self.config.input_strides), batch_size, device)
        return {"keypoints": torch.zeros(shape, device=device), "key_frame_mask": mask}

    def forward(
        self,
        keypoints: torch.Tensor,
        key_frame_mask: torch.Tensor | None = None,
        input_stride: int | None = None,
    ) -> LiftingOutput:
        """Uplift the key-frame poses of a window and upsample them to every output token.

        Args:
            keypoints: ``(B, N, J, C)`` float, screen-normalised to [-1, 1], one pose every ``s_out`` frames;
                values at non-key-frames are ignored.
            key_frame_mask: ``(B, N)`` bool, True at key-frames (at least one per window); see
                ``key_frame_mask``. Give this or ``input_stride``.
            input_stride: One of ``config.input_strides``; builds the centred mask for every sample.

        Returns:
            ``LiftingOutput``: ``sequence`` ``(B, N, J, 3)`` at every token, ``centre`` ``(B, J, 3)`` from the
            strided stage; metres, root-relative (pelvis), camera frame.
        """
        config = self.config
        check_keypoints(keypoints, self.num_joints, config.input_channels, frames=config.num_tokens)
        batch, tokens_per_window, joints, _ = keypoints.shape
        if (key_frame_mask is None) == (input_stride is None):
            raise ValueError("give exactly one of key_frame_mask and input_stride")
        if key_frame_mask is None:
            key_frame_mask = self.key_frame_mask(input_stride, batch, keypoints.device)
        if key_frame_mask.shape != (batch, tokens_per_window) or key_frame_mask.dtype != torch.bool:
            raise ValueError(
                f"key_frame_mask must be a bool tensor shaped {(batch, tokens_per_window)}, "
                f"got {key_frame_mask.dtype} {tuple(key_frame_mask.shape)}"
            )
        # A data-dependent check reads the mask on the host: eager only (under torch.compile it would break the
        # graph; the trainer's loader always gives every window a key-frame, datasets.windows.key_frame_masks).
        if not torch.compiler.is_compiling() and key_frame_mask.device.type != "meta":
            if not bool(key_frame_mask.any(dim=1).all()):
                raise ValueError("every window needs at least one key-frame in key_frame_mask")

        # Spatial stage, shared by all tokens: (B, N, J, C) -> (B*N, J, d_joint)
        joint_tokens = self.joint_embedding(keypoints) + self.joint_position
        joint_tokens = joint_tokens.reshape(batch * tokens_per_window, joints, config.joint_dim)
        for block in self.joint_blocks:
            joint_tokens = block(joint_tokens)
        joint_tokens = self.joint_norm(joint_tokens)
        # (B*N, J, d_joint) -> (B, N, J*d_joint), joint-major, -> pose tokens (B, N, d_temp)
        pose_tokens = self.pose_projection(joint_tokens.reshape(batch, tokens_per_window, joints * config.joint_dim))

        # Upsampling: the learnable token at every non-key-frame, then the temporal positional embedding.
        is_key = key_frame_mask[..., None]  # (B, N, 1)
        tokens = torch.where(is_key, pose_tokens, self.upsampling_token.to(pose_tokens.dtype))
        tokens = tokens + self.temporal_position  # (B, N, d_temp)
        # First temporal block: every query attends to key-frame keys/values only, (B, 1, 1, N) over (B, H, N, N).
        tokens = self.temporal_blocks[0](tokens, key_frame_mask[:, None, None, :])
        for block in self.temporal_blocks[1:]:
            tokens = block(tokens)
        sequence = self.sequence_head(tokens).reshape(batch, tokens_per_window, joints, 3)  # (B, N, J, 3)

        for block in self.strided_blocks:
            tokens = block(tokens)  # (B, L, d_temp) -> (B, L', d_temp), ending at (B, 1, d_temp)
        centre = self.centre_head(tokens[:, 0]).reshape(batch, joints, 3)  # (B, J, 3)
        return LiftingOutput(sequence=sequence, centre=centre)
