"""TMT, the two-step mixed-training strategy (Wang et al.), around any sequence backbone.

The backbone is built with 5 input channels per joint: the 2D keypoint and a 3D vector (Sec. 3.1).

- Training step 1 feeds zeros as the 3D vector; training step 2 feeds the ground-truth 3D velocity
  ``V(t) = P(t) - P(t-1)``, ``V(first frame) = 0`` (Eq. 1). Parameter updates alternate between the two
  steps (Sec. 3.1): ``tmt_step(iteration)`` says which one an iteration is; step 2's input is
  ``velocity_from_positions`` of the target (``LiftingModelConfig.forward_inputs``).
- Inference is step 1: call the model without a velocity.

Only the first embedding layer grows (MixSTE-TMT: 33.79 M parameters at T = 243, Table 4).

Shape legend: ``B`` batch, ``T`` frames, ``J`` joints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import torch
from torch import nn

from lifting.models.common import LiftingOutput, OutputKind
from lifting.models.mixste import MixSTE, MixSTEConfig
from lifting.models.strided import StridedTransformer, StridedTransformerConfig

TMT_BACKBONES: dict[str, type[nn.Module]] = {"mixste": MixSTE, "strided": StridedTransformer}
"""Backbones TMT can wrap: seq2seq or full-to-single models taking ``(B, T, J, C)`` keypoints."""

POSITION_CHANNELS = 2
"""2D keypoint channels of the TMT input (Sec. 3.1)."""

VELOCITY_CHANNELS = 3
"""3D velocity channels of the TMT input (Sec. 3.1: "3D vector"; 5 channels in all)."""


class TMTStep(IntEnum):
    """The two training steps of TMT (Sec. 3.1, Fig. 1)."""

    ZERO_VELOCITY = 1
    """Step 1 (and inference): 2D keypoints padded with a zero 3D vector."""
    GROUND_TRUTH_VELOCITY = 2
    """Step 2: 2D keypoints with the ground-truth 3D velocity."""


def tmt_step(iteration: int) -> TMTStep:
    """The TMT step of a training iteration: steps 1 and 2 alternate, starting with step 1.

    Args:
        iteration: 0-based optimiser-step counter.

    Returns:
        ``ZERO_VELOCITY`` for even iterations, ``GROUND_TRUTH_VELOCITY`` for odd ones.
    """
    return TMTStep.ZERO_VELOCITY if iteration % 2 == 0 else TMTStep.GROUND_TRUTH_VELOCITY


def velocity_from_positions(poses: torch.Tensor) -> torch.Tensor:
    """First temporal difference of 3D poses with a zero first frame (TMT, Eq. 1).

    Args:
        poses: ``(B, T, J, 3)`` metres (the ground-truth 3D joints the model regresses).

    Returns:
        ``(B, T, J, 3)`` metres per frame: ``V[:, t] = P[:, t] - P[:, t - 1]``, ``V[:, 0] = 0``.
    """
    velocity = torch.zeros_like(poses)
    velocity[:, 1:] = poses[:, 1:] - poses[:, :-1]
    return velocity


@dataclass(frozen=True)
class TMTConfig:
    """A TMT model: the backbone's name and its configuration with 5 input channels.

    Attributes:
        backbone: Key of ``TMT_BACKBONES``.
        backbone_config: The backbone's configuration; ``input_channels`` must be 2 + 3.
    """

    backbone: str = "mixste"
    backbone_config: MixSTEConfig | StridedTransformerConfig = MixSTEConfig(
        input_channels=POSITION_CHANNELS + VELOCITY_CHANNELS
    )

    def __post_init__(self) -> None:
        """Validate the configuration; each message names the rule and the value."""
        if self.backbone not in TMT_BACKBONES:
            raise ValueError(f"TMT backbone must be one of {sorted(TMT_BACKBONES)}, got {self.backbone!r}")
        expected_class = TMT_BACKBONES[self.backbone].config_class
        if not isinstance(self.backbone_config, expected_class):
            raise ValueError(
                f"backbone {self.backbone!r} needs a {expected_class.__name__}, "
                f"got {type(self.backbone_config).__name__}"
            )
        channels = POSITION_CHANNELS + VELOCITY_CHANNELS
        if self.backbone_config.input_channels != channels:
            raise ValueError(
                f"a TMT backbone takes {POSITION_CHANNELS} + {VELOCITY_CHANNELS} = {channels} input channels, "
                f"got backbone_config.input_channels={self.backbone_config.input_channels}"
            )

    # What the trainer needs (``common.LiftingModelConfig``): the backbone's windows, plus the velocity input.
    @property
    def window_frames(self) -> int:
        """The backbone's window length."""
        return self.backbone_config.window_frames

    @property
    def output_stride(self) -> int:
        """The backbone's (1)."""
        return self.backbone_config.output_stride

    @property
    def input_strides(self) -> tuple[int, ...]:
        """The backbone's (none)."""
        return self.backbone_config.input_strides

    @property
    def output_kind(self) -> OutputKind:
        """The backbone's: ``"seq2seq"`` around MixSTE, ``"centre"`` around the Strided Transformer."""
        return self.backbone_config.output_kind

    @property
    def needs_velocity_input(self) -> bool:
        """True: training alternates steps 1 and 2 (Sec. 3.1)."""
        return True

    def forward_inputs(
        self, batch: Mapping[str, torch.Tensor], ground_truth_velocity: bool = False
    ) -> dict[str, torch.Tensor | None]:
        """``{"keypoints": (B, T, J, 2), "velocity": (B, T, J, 3) or None}``.

        Args:
            batch: Windows; ``joints_3d`` (B, T, J, 3) metres is read for step 2.
            ground_truth_velocity: Step 2 (``velocity_from_positions`` of ``joints_3d``); False: step 1 and
                inference (zeros).
        """
        velocity = velocity_from_positions(batch["joints_3d"]) if ground_truth_velocity else None
        return {"keypoints": batch["keypoints"], "velocity": velocity}


class TwoStepMixedTraining(nn.Module):
    """A backbone fed 2D keypoints concatenated with a 3D vector: zeros, or the ground-truth velocity."""

    config_class = TMTConfig

    def __init__(self, config: TMTConfig) -> None:
        """Build the backbone with 5 input channels.

        Args:
            config: Backbone name and configuration.
        """
        super().__init__()
        self.config = config
        self.backbone = TMT_BACKBONES[config.backbone](config.backbone_config)
        self.num_joints = self.backbone.num_joints

    def output_frames_per_forward(self) -> int:
        """Output poses one forward pass yields at inference (the backbone's)."""
        return self.backbone.output_frames_per_forward()

    def example_inputs(self, batch_size: int = 1, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """Inference inputs (step 1): zero 2D keypoints ``{"keypoints": (B, T, J, 2)}``."""
        keypoints = self.backbone.example_inputs(batch_size, device)["keypoints"]
        return {"keypoints": keypoints[..., :POSITION_CHANNELS].contiguous()}

    def forward(self, keypoints: torch.Tensor, velocity: torch.Tensor | None = None) -> LiftingOutput:
        """Run the backbone on 2D keypoints with a zero (step 1, inference) or given (step 2) 3D velocity.

        Args:
            keypoints: ``(B, T, J, 2)`` float, screen-normalised to [-1, 1].
            velocity: ``(B, T, J, 3)`` ground-truth 3D velocity in metres per frame
                (``velocity_from_positions``), or None for zeros.

        Returns:
            The backbone's ``LiftingOutput`` (metres, root-relative, camera frame).
        """
        if keypoints.shape[-1] != POSITION_CHANNELS:
            raise ValueError(
                f"TMT keypoints must have {POSITION_CHANNELS} channels, got shape {tuple(keypoints.shape)}"
            )
        if velocity is None:
            velocity = keypoints.new_zeros((*keypoints.shape[:-1], VELOCITY_CHANNELS))
        elif velocity.shape != (*keypoints.shape[:-1], VELOCITY_CHANNELS):
            raise ValueError(
                f"velocity must be shaped {(*keypoints.shape[:-1], VELOCITY_CHANNELS)} to match the keypoints, "
                f"got {tuple(velocity.shape)}"
            )
        return self.backbone(torch.cat([keypoints, velocity.to(keypoints.dtype)], dim=-1))  # (B, T, J, 5)
