"""Each model's loss as one callable: ``LiftingObjective(output, batch) -> {"loss": total, parts...}``.

The loss functions themselves live in ``lifting.losses``; this module only picks one per model (or per
``LossConfig.kind``), fills in the paper's weights and reports the parts for logging (detached).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import torch

from datasets.skeletons import MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS, get_skeleton
from lifting import losses
from lifting.models import LiftingOutput
from lifting.models.registry import TMT_BACKBONE_OF
from lifting.training.config import LossConfig

RELEASED_JOINT_WEIGHTS_SKELETON = "h36m17"
"""The only joint order MixSTE's released per-joint WMPJPE weights are written for."""

LOSS_OF_MODEL = {"uplift-upsample": "uplift-upsample", "mixste": "mixste", "strided": "strided"}
"""Model (or TMT backbone) name -> its paper's loss."""


def loss_kind_for(model: str, config: LossConfig) -> str:
    """The loss a model trains with: ``config.kind``, or the model's own for ``"auto"``."""
    if config.kind != "auto":
        return config.kind
    return LOSS_OF_MODEL[TMT_BACKBONE_OF.get(model, model)]


def _weight(value: float | None, default: float) -> float:
    return default if value is None else value


def _centre_target(target: torch.Tensor) -> torch.Tensor:
    """The window's middle pose ``P // 2`` of (B, P, J, 3) targets: (B, J, 3)."""
    return target[:, target.shape[1] // 2]


class UpliftUpsampleLoss:
    """Uplift-and-Upsample (Sec. 3.2): weighted MPJPE of every output token and of the centre pose."""

    def __init__(self, config: LossConfig, skeleton: str) -> None:
        self.sequence_weight = _weight(config.sequence_weight, losses.UPLIFT_SEQUENCE_WEIGHT)
        self.centre_weight = _weight(config.centre_weight, losses.UPLIFT_CENTRE_WEIGHT)

    def __call__(self, output: LiftingOutput, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss", "sequence_mpjpe", "centre_mpjpe"}`` of (B, P, J, 3) ``target``."""
        sequence, centre, centre_target = output.sequence.float(), output.centre.float(), _centre_target(target)
        total = losses.uplift_upsample_loss(
            sequence, target, centre, centre_target, self.sequence_weight, self.centre_weight
        )
        with torch.no_grad():
            parts = {
                "sequence_mpjpe": losses.mpjpe_loss(sequence, target),
                "centre_mpjpe": losses.mpjpe_loss(centre, centre_target),
            }
        return {"loss": total, **parts}


class StridedLoss:
    """Strided Transformer's full-to-single loss (``losses.full_to_single_loss``), alpha_t if configured."""

    def __init__(self, config: LossConfig, skeleton: str) -> None:
        self.sequence_weight = _weight(config.sequence_weight, losses.STRIDED_SEQUENCE_WEIGHT)
        self.centre_weight = _weight(config.centre_weight, losses.STRIDED_CENTRE_WEIGHT)
        self.target_frame_weights = config.target_frame_weights

    def __call__(self, output: LiftingOutput, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss", "sequence_mpjpe", "centre_mpjpe"}`` of (B, P, J, 3) ``target``."""
        sequence, centre, centre_target = output.sequence.float(), output.centre.float(), _centre_target(target)
        frame_weights = None
        if self.target_frame_weights:
            frame_weights = losses.target_frame_weights(sequence.shape[1], device=sequence.device)
        total = losses.full_to_single_loss(
            sequence, target, centre, centre_target, frame_weights, self.sequence_weight, self.centre_weight
        )
        with torch.no_grad():
            parts = {
                "sequence_mpjpe": losses.mpjpe_loss(sequence, target),
                "centre_mpjpe": losses.mpjpe_loss(centre, centre_target),
            }
        return {"loss": total, **parts}


class MixSTELoss:
    """MixSTE's Eq. 9 (``losses.mixste_loss_terms``, weighed by ``losses.combine_mixste_terms``)."""

    def __init__(self, config: LossConfig, skeleton: str) -> None:
        self.temporal_weight = _weight(config.temporal_consistency_weight, losses.MIXSTE_TEMPORAL_CONSISTENCY_WEIGHT)
        self.velocity_weight = _weight(config.velocity_weight, losses.MIXSTE_VELOCITY_WEIGHT)
        self.joint_weights = self._joint_weights(config, skeleton)

    @staticmethod
    def _joint_weights(config: LossConfig, skeleton: str) -> torch.Tensor:
        if config.joint_weights == "released":
            if skeleton != RELEASED_JOINT_WEIGHTS_SKELETON:
                raise ValueError(
                    f"joint_weights='released' exists for {RELEASED_JOINT_WEIGHTS_SKELETON} only, the store's "
                    f"skeleton is {skeleton!r}; use joint_weights='paper' (joint groups) or 'uniform'"
                )
            return torch.tensor(MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS, dtype=torch.float32)
        if config.joint_weights == "paper":
            return losses.mixste_joint_weights(skeleton)
        return torch.ones(get_skeleton(skeleton).num_joints, dtype=torch.float32)

    def __call__(self, output: LiftingOutput, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss", "weighted_mpjpe", "temporal_consistency", "mpjve", "sequence_mpjpe"}``; terms computed once."""
        sequence = output.sequence.float()
        terms = losses.mixste_loss_terms(sequence, target, self.joint_weights.to(sequence.device))
        total = losses.combine_mixste_terms(terms, self.temporal_weight, self.velocity_weight)
        with torch.no_grad():
            sequence_mpjpe = losses.mpjpe_loss(sequence, target)
        return {
            "loss": total,
            **{name: term.detach() for name, term in terms.items()},
            "sequence_mpjpe": sequence_mpjpe,
        }


class MPJPELoss:
    """Plain MPJPE of every output frame."""

    def __init__(self, config: LossConfig, skeleton: str) -> None:
        del config, skeleton  # plain MPJPE takes no weights

    def __call__(self, output: LiftingOutput, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"loss", "sequence_mpjpe"}``."""
        total = losses.mpjpe_loss(output.sequence.float(), target)
        return {"loss": total, "sequence_mpjpe": total.detach()}


LOSSES: Mapping[str, type[UpliftUpsampleLoss | StridedLoss | MixSTELoss | MPJPELoss]] = MappingProxyType(
    {"uplift-upsample": UpliftUpsampleLoss, "mixste": MixSTELoss, "strided": StridedLoss, "mpjpe": MPJPELoss}
)
"""Loss kind (``LossConfig.kind`` other than ``"auto"``) -> its class, built from the config and the skeleton."""


class LiftingObjective:
    """The loss of one model on batches of windows.

    Targets come from ``batch["joints_3d"]`` (B, P, J, 3), root-relative metres; the centre target is the
    window's middle pose ``P // 2``.

    Args:
        kind: A key of ``LOSSES`` (``loss_kind_for``).
        config: Weights (None: the paper's).
        skeleton: Skeleton name of the store (joint weights).
    """

    def __init__(self, kind: str, config: LossConfig, skeleton: str) -> None:
        if kind not in LOSSES:
            raise ValueError(f"unknown loss kind {kind!r}; use {', '.join(LOSSES)}")
        self.kind, self.config = kind, config
        self.loss = LOSSES[kind](config, skeleton)

    def __call__(self, output: LiftingOutput, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Loss of one batch.

        Args:
            output: The model's ``sequence`` (B, P, J, 3) and ``centre`` (B, J, 3), metres.
            batch: Windows with ``joints_3d`` (B, P, J, 3).

        Returns:
            ``{"loss": differentiable scalar, <part>: detached scalar, ...}``.
        """
        return self.loss(output, batch["joints_3d"])
