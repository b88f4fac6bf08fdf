"""Training losses of the uplifting transformers, in pure torch (differentiable, any float dtype).

- ``mpjpe_loss``: mean Euclidean joint error (every paper's base loss).
- ``weighted_mpjpe_loss`` with ``mixste_joint_weights``: MixSTE's WMPJPE, joints weighted by group.
- ``temporal_consistency_loss`` (TCLoss) and ``mpjve_loss``: MixSTE's T-Loss; ``mixste_loss_terms`` computes all
  three, ``mixste_loss`` (``combine_mixste_terms``) weighs them.
- ``uplift_upsample_loss``: Uplift-and-Upsample's 0.5 * sequence + 0.5 * centre MPJPE.
- ``full_to_single_loss`` with ``target_frame_weights``: the Strided Transformer's sequence + centre loss,
  the sequence term weighted per frame (alpha_t) as the strided-lifting seed proposes.

Shape legend: ``B`` batch, ``T`` frames, ``J`` joints; ``...`` any leading dimensions. Poses are root-relative
metres; losses are metres (position losses) or metres per frame (velocity losses), or squared metres
(TCLoss), averaged over the batch.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from datasets.skeletons import JOINT_GROUP_WEIGHTS, get_skeleton, joint_group_weights

MIXSTE_TEMPORAL_CONSISTENCY_WEIGHT = 0.5
"""lambda_t of MixSTE's loss (Eq. 9); the paper gives no value, 0.5 is the released training script's."""

MIXSTE_VELOCITY_WEIGHT = 2.0
"""lambda_m of MixSTE's loss (Eq. 9); the paper gives no value, 2.0 is the released training script's."""

UPLIFT_SEQUENCE_WEIGHT = 0.5
"""Weight of the sequence MPJPE in Uplift-and-Upsample's loss (Sec. 3.2: 0.5 L_seq + 0.5 L_center)."""

UPLIFT_CENTRE_WEIGHT = 0.5
"""Weight of the centre-frame MPJPE in Uplift-and-Upsample's loss (Sec. 3.2)."""

STRIDED_SEQUENCE_WEIGHT = 1.0
"""lambda_f, weight of the full-sequence loss (strided-lifting seed, Sec. 5.2: "both set to 1")."""

STRIDED_CENTRE_WEIGHT = 1.0
"""lambda_s, weight of the single-frame loss (strided-lifting seed, Sec. 5.2)."""

TARGET_FRAME_PEAK_WEIGHT = 2.0
"""alpha at the target frame relative to distant frames, before normalisation. The seed (Sec. 4.4, Eq. 15)
asks for more weight "to the target frame and its closest neighbor frames" but gives no numbers: ours."""

TARGET_FRAME_WIDTH_FRAMES = 1.0
"""Standard deviation, in frames, of the Gaussian bump of alpha_t around the target frame (our choice, as above)."""


def _check_pair(predicted: torch.Tensor, target: torch.Tensor) -> None:
    if predicted.shape != target.shape or predicted.ndim < 2 or predicted.shape[-1] != 3:
        raise ValueError(
            f"predicted and target must be matching (..., J, 3) tensors, got {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}"
        )


def _joint_errors(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per joint, ``(..., J)``."""
    _check_pair(predicted, target)
    return torch.linalg.vector_norm(predicted - target, dim=-1)


def mpjpe_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: Euclidean distance averaged over every joint of every pose.

    Args:
        predicted: ``(..., J, 3)`` metres.
        target: ``(..., J, 3)`` metres.

    Returns:
        Scalar, metres.
    """
    return _joint_errors(predicted, target).mean()


def weighted_mpjpe_loss(predicted: torch.Tensor, target: torch.Tensor, joint_weights: torch.Tensor) -> torch.Tensor:
    """MixSTE's WMPJPE (Eq. 1 of the supplement): ``mean(w_j * ||p_j - g_j||)`` over poses and joints.

    The supplement's Eq. 2 writes the squared norm inside; the loss's name and the released code use the
    plain Euclidean distance, as here.

    Args:
        predicted: ``(..., J, 3)`` metres.
        target: ``(..., J, 3)`` metres.
        joint_weights: ``(J,)`` weights (``mixste_joint_weights``).

    Returns:
        Scalar, metres (weighted).
    """
    errors = _joint_errors(predicted, target)
    if joint_weights.shape != errors.shape[-1:]:
        raise ValueError(f"joint_weights must be shaped ({errors.shape[-1]},), got {tuple(joint_weights.shape)}")
    return (errors * joint_weights.to(errors)).mean()


def mixste_joint_weights(
    skeleton: str = "h36m17", group_weights: Mapping[str, float] = JOINT_GROUP_WEIGHTS
) -> torch.Tensor:
    """Per-joint WMPJPE weights: each joint's group (``Skeleton.joint_groups``) mapped to its weight.

    The group weights (torso 1.0, head 1.5, middle limb 2.5, terminal limb 4.0; MixSTE Sec. 4.1) and the
    joints' groups are skeleton data (``datasets.skeletons.JOINT_GROUP_WEIGHTS``, ``joint_group_weights``).

    Args:
        skeleton: ``datasets.skeletons`` name; the skeleton must define ``joint_groups``.
        group_weights: Group -> weight (MixSTE's by default).

    Returns:
        ``(J,)`` float32.
    """
    return torch.from_numpy(joint_group_weights(get_skeleton(skeleton), group_weights)).float()


def temporal_consistency_loss(predicted: torch.Tensor, joint_weights: torch.Tensor | None = None) -> torch.Tensor:
    """MixSTE's TCLoss as the released training script computes it: mean weighted squared displacement.

    ``L_t = 1 / (B (T-1) J 3) * sum_{b, t=2..T, j, xyz} w_j (p_{t,j} - p_{t-1,j})^2``: the mean over every batch
    item, frame difference, joint and coordinate. The supplement's Eq. 3 sums over coordinates and divides by
    ``J T``, a value ``3 (T-1) / T`` times larger (2.99x at T = 243); lambda_t = 0.5
    (``MIXSTE_TEMPORAL_CONSISTENCY_WEIGHT``) comes from the released script, so we normalise as it does and
    lambda_t weighs the term as it did in the published training. Joints are weighted by the WMPJPE weights
    there (``joint_weights``).

    Args:
        predicted: ``(B, T, J, 3)`` metres, ``T >= 2``.
        joint_weights: Optional ``(J,)`` weights.

    Returns:
        Scalar, square metres (per coordinate).
    """
    if predicted.ndim != 4 or predicted.shape[-1] != 3 or predicted.shape[1] < 2:
        raise ValueError(f"predicted must be (B, T >= 2, J, 3), got {tuple(predicted.shape)}")
    squared = (predicted[:, 1:] - predicted[:, :-1]).square()  # (B, T-1, J, 3)
    if joint_weights is not None:
        squared = squared * joint_weights.to(squared)[:, None]
    return squared.mean()


def mpjve_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint velocity error: MPJPE of first temporal differences (MixSTE's L_m).

    Args:
        predicted: ``(B, T, J, 3)`` metres, ``T >= 2``.
        target: ``(B, T, J, 3)`` metres.

    Returns:
        Scalar, metres per frame.
    """
    _check_pair(predicted, target)
    if predicted.ndim != 4 or predicted.shape[1] < 2:
        raise ValueError(f"predicted must be (B, T >= 2, J, 3), got {tuple(predicted.shape)}")
    return mpjpe_loss(predicted[:, 1:] - predicted[:, :-1], target[:, 1:] - target[:, :-1])


def mixste_loss_terms(
    predicted: torch.Tensor, target: torch.Tensor, joint_weights: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The three terms of MixSTE's loss (Eq. 9), each computed once: what ``mixste_loss`` weighs and logs show.

    Args:
        predicted: ``(B, T, J, 3)`` metres, ``T >= 2``.
        target: ``(B, T, J, 3)`` metres.
        joint_weights: ``(J,)`` WMPJPE weights (``mixste_joint_weights()``); also weight the TCLoss, as in the
            released code.

    Returns:
        ``{"weighted_mpjpe": L_w, "temporal_consistency": L_t, "mpjve": L_m}``, scalars.
    """
    return {
        "weighted_mpjpe": weighted_mpjpe_loss(predicted, target, joint_weights),
        "temporal_consistency": temporal_consistency_loss(predicted, joint_weights),
        "mpjve": mpjve_loss(predicted, target),
    }


def combine_mixste_terms(
    terms: Mapping[str, torch.Tensor],
    temporal_consistency_weight: float = MIXSTE_TEMPORAL_CONSISTENCY_WEIGHT,
    velocity_weight: float = MIXSTE_VELOCITY_WEIGHT,
) -> torch.Tensor:
    """``L_w + lambda_t L_t + lambda_m L_m`` of ``mixste_loss_terms``' terms (Eq. 9)."""
    return (
        terms["weighted_mpjpe"]
        + temporal_consistency_weight * terms["temporal_consistency"]
        + velocity_weight * terms["mpjve"]
    )


def mixste_loss(
    predicted: torch.Tensor,
    target: torch.Tensor,
    joint_weights: torch.Tensor,
    temporal_consistency_weight: float = MIXSTE_TEMPORAL_CONSISTENCY_WEIGHT,
    velocity_weight: float = MIXSTE_VELOCITY_WEIGHT,
) -> torch.Tensor:
    """MixSTE's loss (Eq. 9): ``L_w + lambda_t L_t + lambda_m L_m`` (TMT trains with the same loss).

    Equal to the released training script's ``loss_total`` (tests/test_released_goldens.py). That script then
    calls ``loss_total.backward(loss_total.clone().detach())``, which multiplies every gradient by the loss value
    (the gradient of ``L^2 / 2``, an effective learning rate that shrinks as the loss falls); we do not follow
    it: ``lifting.training.step`` back-propagates the loss itself, as the paper's Eq. 9 describes.

    Args:
        predicted: ``(B, T, J, 3)`` metres, ``T >= 2``.
        target: ``(B, T, J, 3)`` metres.
        joint_weights: ``(J,)`` WMPJPE weights (``mixste_loss_terms``).
        temporal_consistency_weight: lambda_t.
        velocity_weight: lambda_m.

    Returns:
        Scalar.
    """
    terms = mixste_loss_terms(predicted, target, joint_weights)
    return combine_mixste_terms(terms, temporal_consistency_weight, velocity_weight)


def uplift_upsample_loss(
    sequence_predicted: torch.Tensor,
    sequence_target: torch.Tensor,
    centre_predicted: torch.Tensor,
    centre_target: torch.Tensor,
    sequence_weight: float = UPLIFT_SEQUENCE_WEIGHT,
    centre_weight: float = UPLIFT_CENTRE_WEIGHT,
) -> torch.Tensor:
    """Uplift-and-Upsample's loss (Sec. 3.2): ``0.5 * MPJPE(all tokens) + 0.5 * MPJPE(centre)``.

    Args:
        sequence_predicted: ``(B, N, J, 3)`` metres, every output token (key-frames and upsampled).
        sequence_target: ``(B, N, J, 3)`` metres.
        centre_predicted: ``(B, J, 3)`` metres.
        centre_target: ``(B, J, 3)`` metres.
        sequence_weight: Weight of the sequence term.
        centre_weight: Weight of the centre term.

    Returns:
        Scalar, metres.
    """
    return sequence_weight * mpjpe_loss(sequence_predicted, sequence_target) + centre_weight * mpjpe_loss(
        centre_predicted, centre_target
    )


def target_frame_weights(
    frames: int,
    peak_weight: float = TARGET_FRAME_PEAK_WEIGHT,
    width_frames: float = TARGET_FRAME_WIDTH_FRAMES,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """alpha_t of the full-sequence loss: a bump at the centre (target) frame, normalised to mean 1.

    ``alpha_t ~ 1 + (peak - 1) * exp(-((t - c) / width)^2 / 2)`` with ``c = (T - 1) / 2``, scaled so the weights
    average 1 (uniform weights, ``peak_weight = 1``, give plain MPJPE).

    Args:
        frames: ``T``.
        peak_weight: Unnormalised weight at the target frame (distant frames get 1).
        width_frames: Width of the bump in frames.
        device: Where to create the weights.

    Returns:
        ``(T,)`` float32, mean 1.
    """
    if frames < 1 or peak_weight < 1.0 or width_frames <= 0.0:
        raise ValueError(
            f"target_frame_weights needs frames >= 1, peak_weight >= 1 and width_frames > 0; "
            f"got {frames}, {peak_weight}, {width_frames}"
        )
    offset = torch.arange(frames, dtype=torch.float32, device=device) - (frames - 1) / 2
    weights = 1.0 + (peak_weight - 1.0) * torch.exp(-0.5 * (offset / width_frames).square())
    return weights / weights.mean()


def frame_weighted_mpjpe_loss(
    predicted: torch.Tensor, target: torch.Tensor, frame_weights: torch.Tensor
) -> torch.Tensor:
    """The strided-lifting seed's L_f (Eq. 15): joint errors weighted per frame by alpha_t.

    ``sum_t alpha_t mean_j ||p_{t,j} - g_{t,j}|| / sum_t alpha_t``, averaged over the batch (the seed writes a
    plain sum; normalising keeps the value in metres and equal to MPJPE for uniform weights).

    Args:
        predicted: ``(B, T, J, 3)`` metres.
        target: ``(B, T, J, 3)`` metres.
        frame_weights: ``(T,)`` non-negative (``target_frame_weights``).

    Returns:
        Scalar, metres.
    """
    errors = _joint_errors(predicted, target)  # (B, T, J)
    if errors.ndim != 3 or frame_weights.shape != errors.shape[1:2]:
        raise ValueError(
            f"frame_weights must be shaped ({errors.shape[1]},) for predictions {tuple(predicted.shape)}, "
            f"got {tuple(frame_weights.shape)}"
        )
    weights = frame_weights.to(errors)
    return (errors.mean(dim=-1) * weights).sum(dim=-1).mean() / weights.sum()


def full_to_single_loss(
    sequence_predicted: torch.Tensor,
    sequence_target: torch.Tensor,
    centre_predicted: torch.Tensor,
    centre_target: torch.Tensor,
    frame_weights: torch.Tensor | None = None,
    sequence_weight: float = STRIDED_SEQUENCE_WEIGHT,
    centre_weight: float = STRIDED_CENTRE_WEIGHT,
) -> torch.Tensor:
    """Strided Transformer's full-to-single loss (seed Eq. 17): ``lambda_f L_f + lambda_s L_s``.

    Args:
        sequence_predicted: ``(B, T, J, 3)`` metres, the VTE head's full sequence.
        sequence_target: ``(B, T, J, 3)`` metres.
        centre_predicted: ``(B, J, 3)`` metres, the STE head's centre pose.
        centre_target: ``(B, J, 3)`` metres.
        frame_weights: ``(T,)`` alpha_t for L_f (``target_frame_weights(T)`` for the seed's variant); None gives
            uniform weights, the base model's MPJPE.
        sequence_weight: lambda_f.
        centre_weight: lambda_s.

    Returns:
        Scalar, metres.
    """
    if frame_weights is None:
        sequence_term = mpjpe_loss(sequence_predicted, sequence_target)
    else:
        sequence_term = frame_weighted_mpjpe_loss(sequence_predicted, sequence_target, frame_weights)
    return sequence_weight * sequence_term + centre_weight * mpjpe_loss(centre_predicted, centre_target)
