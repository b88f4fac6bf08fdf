"""Losses, each against a value derived by hand in its docstring."""

from __future__ import annotations

import pytest
import torch

from datasets.skeletons import JOINT_GROUP_WEIGHTS, get_skeleton
from lifting.losses import (
    frame_weighted_mpjpe_loss,
    full_to_single_loss,
    mixste_joint_weights,
    mixste_loss,
    mpjpe_loss,
    mpjve_loss,
    target_frame_weights,
    temporal_consistency_loss,
    uplift_upsample_loss,
    weighted_mpjpe_loss,
)


def _offset(poses: torch.Tensor, joint: int, vector: tuple[float, float, float]) -> torch.Tensor:
    moved = poses.clone()
    moved[..., joint, :] += torch.tensor(vector)
    return moved


def test_mpjpe_by_hand():
    """Two joints; joint 1 off by (0.03, 0.04, 0) = 0.05 m, joint 0 exact: mean 0.025 m."""
    target = torch.zeros(1, 1, 2, 3)
    assert mpjpe_loss(_offset(target, 1, (0.03, 0.04, 0.0)), target).item() == pytest.approx(0.025)
    with pytest.raises(ValueError, match="matching"):
        mpjpe_loss(torch.zeros(2, 3), torch.zeros(3, 3))


def test_weighted_mpjpe_by_hand():
    """Errors (0, 0.05) m with weights (1, 4): mean(0 * 1, 0.05 * 4) = 0.1."""
    target = torch.zeros(1, 1, 2, 3)
    predicted = _offset(target, 1, (0.03, 0.04, 0.0))
    assert weighted_mpjpe_loss(predicted, target, torch.tensor([1.0, 4.0])).item() == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        weighted_mpjpe_loss(predicted, target, torch.ones(3))


def test_mixste_joint_weights_follow_the_skeleton_groups():
    """Each h36m17 joint gets its group's weight: pelvis (torso) 1.0, left wrist (terminal limb) 4.0."""
    skeleton = get_skeleton("h36m17")
    weights = mixste_joint_weights("h36m17")
    assert weights.shape == (17,)
    assert weights.tolist() == [JOINT_GROUP_WEIGHTS[group] for group in skeleton.joint_groups]
    assert weights[skeleton.index("pelvis")] == 1.0 and weights[skeleton.index("left_wrist")] == 4.0
    assert sorted(set(weights.tolist())) == [1.0, 1.5, 2.5, 4.0]


def test_temporal_consistency_by_hand():
    """Released MixSTE normalisation: the mean over B (T-1) J 3 squared coordinate steps, weighted per joint.

    B = 1, T = 3, J = 2. Joint 0 moves along x through 0, 0.1, 0.3 m (squared steps 0.01, 0.04); joint 1 along
    y through 0, 0.2, 0.2 m (0.04, 0). Unweighted: (0.01 + 0.04 + 0.04) / (1 * 2 * 2 * 3) = 0.09 / 12 = 0.0075.
    Weights (1, 3): (0.05 + 3 * 0.04) / 12 = 0.17 / 12. (Eq. 3 of the supplement, sum over xyz / (J T), would give
    0.09 / 6: the factor 3 (T-1) / T = 2 the released lambda_t was not tuned for.)
    """
    predicted = torch.zeros(1, 3, 2, 3)
    predicted[0, :, 0, 0] = torch.tensor([0.0, 0.1, 0.3])
    predicted[0, :, 1, 1] = torch.tensor([0.0, 0.2, 0.2])
    assert temporal_consistency_loss(predicted).item() == pytest.approx(0.09 / 12)
    assert temporal_consistency_loss(predicted, torch.tensor([1.0, 3.0])).item() == pytest.approx(0.17 / 12)


def test_mpjve_by_hand():
    """Prediction steps (0.1, 0.2) m along x, target still: velocity errors 0.1 and 0.2, mean 0.15 m/frame.

    A constant offset between prediction and target has zero velocity error.
    """
    predicted = torch.zeros(1, 3, 1, 3)
    predicted[0, :, 0, 0] = torch.tensor([0.0, 0.1, 0.3])
    target = torch.zeros_like(predicted)
    assert mpjve_loss(predicted, target).item() == pytest.approx(0.15)
    assert mpjve_loss(target + 0.7, target).item() == pytest.approx(0.0)


def test_mixste_loss_combines_the_three_terms_with_the_released_weights():
    """Joint 0 above alone, J = 1, weight 1: L_w = mean(0, 0.1, 0.3) = 0.1333, L_t = 0.05 / (2 * 3), L_m = 0.15.

    Total with lambda_t 0.5 and lambda_m 2.0: 0.13333 + 0.0041666 + 0.3 = 0.4375.
    """
    predicted = torch.zeros(1, 3, 1, 3)
    predicted[0, :, 0, 0] = torch.tensor([0.0, 0.1, 0.3])
    value = mixste_loss(predicted, torch.zeros_like(predicted), torch.tensor([1.0]))
    assert value.item() == pytest.approx(0.4 / 3 + 0.5 * 0.05 / 6 + 2.0 * 0.15)


def test_uplift_upsample_loss_by_hand():
    """Sequence error 0.02 m everywhere, centre error 0.06 m: 0.5 * 0.02 + 0.5 * 0.06 = 0.04."""
    sequence = torch.zeros(2, 5, 17, 3)
    centre = torch.zeros(2, 17, 3)
    value = uplift_upsample_loss(
        sequence + torch.tensor([0.02, 0, 0]), sequence, centre + torch.tensor([0, 0.06, 0]), centre
    )
    assert value.item() == pytest.approx(0.04)


def test_target_frame_weights_by_hand():
    """T = 3, peak 2, width 1: unnormalised 1 + e^-0.5, 2, 1 + e^-0.5; normalised to mean 1.

    e^-0.5 = 0.60653, so the raw weights are (1.60653, 2, 1.60653), sum 5.21306, scaled by 3 / 5.21306.
    """
    weights = target_frame_weights(3, peak_weight=2.0, width_frames=1.0)
    raw = torch.tensor([1 + torch.e**-0.5, 2.0, 1 + torch.e**-0.5])
    torch.testing.assert_close(weights, raw * 3 / raw.sum())
    assert weights.mean().item() == pytest.approx(1.0)
    assert weights[1] == weights.max() and torch.equal(weights, weights.flip(0))
    torch.testing.assert_close(target_frame_weights(5, peak_weight=1.0), torch.ones(5))
    with pytest.raises(ValueError, match="peak_weight >= 1"):
        target_frame_weights(5, peak_weight=0.5)


def test_frame_weighted_loss_and_full_to_single_by_hand():
    """T = 2 frames with errors 0.1 and 0.3 m, weights (1, 3): (0.1 + 0.9) / 4 = 0.25; uniform: 0.2.

    Full-to-single adds the centre MPJPE (0.05 m) with lambda_s = 1: 0.25 + 0.05 = 0.3.
    """
    target = torch.zeros(1, 2, 1, 3)
    predicted = target.clone()
    predicted[0, 0, 0, 2], predicted[0, 1, 0, 2] = 0.1, 0.3
    weights = torch.tensor([1.0, 3.0])
    assert frame_weighted_mpjpe_loss(predicted, target, weights).item() == pytest.approx(0.25)
    assert frame_weighted_mpjpe_loss(predicted, target, torch.ones(2)).item() == pytest.approx(0.2)
    centre_target = torch.zeros(1, 1, 3)
    centre = centre_target + torch.tensor([0.0, 0.05, 0.0])
    assert full_to_single_loss(predicted, target, centre, centre_target, weights).item() == pytest.approx(0.3)
    assert full_to_single_loss(predicted, target, centre, centre_target).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        frame_weighted_mpjpe_loss(predicted, target, torch.ones(3))


def test_losses_are_differentiable_and_only_the_smoothness_term_remains_at_the_target():
    generator = torch.Generator().manual_seed(0)
    target = torch.randn(2, 4, 17, 3, generator=generator)
    predicted = (target + 0.01 * torch.randn(2, 4, 17, 3, generator=generator)).requires_grad_()
    weights = mixste_joint_weights()
    total = mixste_loss(predicted, target, weights) + mpjpe_loss(predicted, target)
    total.backward()
    assert predicted.grad is not None and torch.isfinite(predicted.grad).all()
    assert mixste_loss(target, target, weights).item() == pytest.approx(
        temporal_consistency_loss(target, weights).item() * 0.5
    )
