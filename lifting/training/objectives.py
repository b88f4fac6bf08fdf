"""Each model's loss as one callable: ``LiftingObjective(output, batch) -> {"loss": total, parts...}``.

The loss functions themselves live in ``lifting.losses``; this module only picks one per model (or per
``LossConfig.kind``), fills in the paper's weights and reports the parts for logging (detached).
"""

from __future__ import annotations

from collections.abc import Mapping

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


class LiftingObjective:
    """The loss of one model on batches of windows.

    Targets come from ``batch["joints_3d"]`` (B, P, J, 3), root-relative metres; the centre target is the
    window's middle pose ``P // 2``.

    Args:
        kind: ``"uplift-upsample"``, ``"mixste"``, ``"strided"`` or ``"mpjpe"`` (``loss_kind_for``).
        config: Weights (None: the paper's).
        skeleton: Skeleton name of the store (joint weights).
    """

    def __init__(self, kind: str, config: LossConfig, skeleton: str) -> None:
        self.kind, self.config = kind, config
        if kind == "uplift-upsample":
            self.sequence_weight = _weight(config.sequence_weight, losses.UPLIFT_SEQUENCE_WEIGHT)
            self.centre_weight = _weight(config.centre_weight, losses.UPLIFT_CENTRE_WEIGHT)
        elif kind == "strided":
            self.sequence_weight = _weight(config.sequence_weight, losses.STRIDED_SEQUENCE_WEIGHT)
            self.centre_weight = _weight(config.centre_weight, losses.STRIDED_CENTRE_WEIGHT)
        elif kind == "mixste":
            self.temporal_weight = _weight(
                config.temporal_consistency_weight, losses.MIXSTE_TEMPORAL_CONSISTENCY_WEIGHT
            )
            self.velocity_weight = _weight(config.velocity_weight, losses.MIXSTE_VELOCITY_WEIGHT)
            self.joint_weights = self._joint_weights(config, skeleton)
        elif kind != "mpjpe":
            raise ValueError(f"unknown loss kind {kind!r}; use uplift-upsample, mixste, strided or mpjpe")

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

    def __call__(self, output: LiftingOutput, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Loss of one batch.

        Args:
            output: The model's ``sequence`` (B, P, J, 3) and ``centre`` (B, J, 3), metres.
            batch: Windows with ``joints_3d`` (B, P, J, 3).

        Returns:
            ``{"loss": differentiable scalar, <part>: detached scalar, ...}``.
        """
        target = batch["joints_3d"]
        sequence = output.sequence.float()
        centre_target = target[:, target.shape[1] // 2]
        if self.kind == "uplift-upsample" or self.kind == "strided":
            centre = output.centre.float()
            if self.kind == "uplift-upsample":
                total = losses.uplift_upsample_loss(
                    sequence, target, centre, centre_target, self.sequence_weight, self.centre_weight
                )
            else:
                frame_weights = None
                if self.config.target_frame_weights:
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
        if self.kind == "mixste":
            weights = self.joint_weights.to(sequence.device)
            total = losses.mixste_loss(sequence, target, weights, self.temporal_weight, self.velocity_weight)
            with torch.no_grad():
                parts = {
                    "weighted_mpjpe": losses.weighted_mpjpe_loss(sequence, target, weights),
                    "temporal_consistency": losses.temporal_consistency_loss(sequence, weights),
                    "mpjve": losses.mpjve_loss(sequence, target),
                    "sequence_mpjpe": losses.mpjpe_loss(sequence, target),
                }
            return {"loss": total, **parts}
        total = losses.mpjpe_loss(sequence, target)
        return {"loss": total, "sequence_mpjpe": total.detach()}
