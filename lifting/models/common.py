"""What every uplifting model shares: its output type, what its config tells a trainer, input checks, validation.

Every model config (``UpliftUpsampleConfig``, ``MixSTEConfig``, ``StridedTransformerConfig``, ``TMTConfig``)
answers the ``LiftingModelConfig`` questions, so training and evaluation treat all models alike.

Shape legend: ``B`` batch, ``T`` frames (or tokens), ``J`` joints, ``C`` input channels per joint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple, Protocol

import torch

from datasets.skeletons import get_skeleton


class LiftingOutput(NamedTuple):
    """Predictions of an uplifting model, root-relative, metres, camera frame.

    Attributes:
        sequence: ``(B, T_out, J, 3)`` float: every output frame of the window (MixSTE: all ``T`` input frames;
            Strided Transformer: all ``N`` frames; Uplift-and-Upsample: the ``N_tok`` frames at output stride).
        centre: ``(B, J, 3)`` float: the window's centre frame (a dedicated head where the model has one, the
            sequence's middle frame for seq2seq MixSTE).
    """

    sequence: torch.Tensor
    centre: torch.Tensor


OutputKind = Literal["seq2seq", "centre"]
"""``"seq2seq"``: one pass predicts every frame of its window (evaluated on every frame, trained on clips);
``"centre"``: one pass is scored on its centre frame (windows centred on each evaluated frame)."""


class LiftingModelConfig(Protocol):
    """What a model's config tells the trainer and the evaluator about its windows, outputs and inputs."""

    @property
    def window_frames(self) -> int:
        """Input frames ``N`` one window spans (Uplift-and-Upsample: the receptive field)."""
        ...

    @property
    def output_stride(self) -> int:
        """Frames between the window's poses (``s_out``; 1 for models that read every frame)."""
        ...

    @property
    def input_strides(self) -> tuple[int, ...]:
        """Key-frame strides ``s_in`` the model accepts; empty for models without key-frames."""
        ...

    @property
    def output_kind(self) -> OutputKind:
        """How a forward pass is scored: every frame (``"seq2seq"``) or the centre frame (``"centre"``)."""
        ...

    @property
    def needs_velocity_input(self) -> bool:
        """Whether training alternates zero and ground-truth 3D velocity inputs (TMT's two steps)."""
        ...

    def forward_inputs(
        self, batch: Mapping[str, torch.Tensor], ground_truth_velocity: bool = False
    ) -> dict[str, torch.Tensor | None]:
        """Keyword arguments of the model's ``forward`` for a batch of windows (``datasets.windows``)."""
        ...


def keypoint_inputs(
    batch: Mapping[str, torch.Tensor], ground_truth_velocity: bool = False
) -> dict[str, torch.Tensor | None]:
    """``forward`` arguments of a model that reads keypoints only: ``{"keypoints": (B, T, J, C)}``.

    Raises:
        ValueError: ``ground_truth_velocity`` asked of such a model (only TMT models take a velocity).
    """
    if ground_truth_velocity:
        raise ValueError("ground_truth_velocity applies to TMT models only; this model reads keypoints alone")
    return {"keypoints": batch["keypoints"]}


class EveryFrameKeypointModel:
    """``LiftingModelConfig`` answers shared by models that read a 2D pose in every frame and nothing else.

    MixSTE and the Strided Transformer: a pose for every input frame (``output_stride`` 1), no key-frames, no
    velocity input, ``forward(keypoints=...)``. A config class inherits these and states its own
    ``window_frames`` and ``output_kind``.
    """

    @property
    def output_stride(self) -> int:
        """1: a pose for every input frame."""
        return 1

    @property
    def input_strides(self) -> tuple[int, ...]:
        """None: every frame carries a 2D pose."""
        return ()

    @property
    def needs_velocity_input(self) -> bool:
        """False: keypoints only."""
        return False

    def forward_inputs(
        self, batch: Mapping[str, torch.Tensor], ground_truth_velocity: bool = False
    ) -> dict[str, torch.Tensor | None]:
        """``{"keypoints": (B, T, J, C)}`` (``keypoint_inputs``)."""
        return keypoint_inputs(batch, ground_truth_velocity)


def skeleton_joint_count(skeleton: str) -> int:
    """Number of joints of a named skeleton (``datasets.skeletons``), e.g. 17 for ``"h36m17"``."""
    return get_skeleton(skeleton).num_joints


def check_keypoints(keypoints: torch.Tensor, joints: int, channels: int, frames: int | None = None) -> None:
    """Reject a keypoint tensor whose shape does not fit the model, naming the expected shape.

    Args:
        keypoints: Expected ``(B, T, J, C)``.
        joints: ``J`` the model was built for.
        channels: ``C`` the model was built for.
        frames: ``T`` if the model needs an exact length, else None.
    """
    expected_frames = "T" if frames is None else str(frames)
    expected = f"(B, {expected_frames}, {joints}, {channels})"
    shape = tuple(keypoints.shape)
    if keypoints.ndim != 4 or shape[2] != joints or shape[3] != channels:
        raise ValueError(f"keypoints must be shaped {expected}, got {shape}")
    if frames is not None and shape[1] != frames:
        raise ValueError(f"keypoints must be shaped {expected} (the configured window), got {shape}")


def require_positive(name: str, value: int | float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value > 0``."""
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")


def require_rate(name: str, value: float) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``0 <= value < 1`` (a dropout or drop-path rate)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")


def require_divisible(name: str, width: int, heads: int) -> None:
    """Raise ``ValueError`` unless a width splits evenly over attention heads."""
    if width % heads != 0:
        raise ValueError(f"{name}={width} must be divisible by its head count {heads}")


def require_known_skeleton(skeleton: str) -> None:
    """Raise ``ValueError`` naming the skeleton unless ``datasets.skeletons`` knows it."""
    try:
        get_skeleton(skeleton)
    except (KeyError, ValueError) as error:
        raise ValueError(f"skeleton must name a datasets.skeletons skeleton, got {skeleton!r}: {error}") from error
