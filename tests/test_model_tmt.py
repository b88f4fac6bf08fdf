"""TMT: velocity input, alternating steps, zero-velocity inference, only the embedding grows."""

from __future__ import annotations

import pytest
import torch

from lifting.models import (
    MixSTEConfig,
    TMTConfig,
    TMTStep,
    build_model,
    load_model_config,
    tmt_step,
    velocity_from_positions,
)


def test_velocity_is_the_first_difference_with_a_zero_first_frame():
    """Joint moving along x at 0, 1, 3, 6 m: velocity 0 (Eq. 1, V(1) = 0), 1, 2, 3 m per frame."""
    poses = torch.zeros(1, 4, 2, 3)
    poses[0, :, 1, 0] = torch.tensor([0.0, 1.0, 3.0, 6.0])
    velocity = velocity_from_positions(poses)
    assert velocity[0, :, 1, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert velocity[..., 1:].abs().sum() == 0 and velocity[:, :, 0].abs().sum() == 0


def test_steps_alternate_starting_with_zero_velocity():
    assert [tmt_step(i) for i in range(4)] == [TMTStep.ZERO_VELOCITY, TMTStep.GROUND_TRUTH_VELOCITY] * 2


@pytest.mark.parametrize("model_name", ["mixste-tmt", "strided-tmt"])
def test_inference_is_step_one_and_the_velocity_reaches_the_output(model_name):
    torch.manual_seed(0)
    model = build_model(model_name, "demo").eval()
    keypoints = model.example_inputs(batch_size=2)["keypoints"].uniform_(-1, 1)
    velocity = torch.randn(*keypoints.shape[:-1], 3, generator=torch.Generator().manual_seed(3)) * 0.01
    with torch.no_grad():
        inference = model(keypoints)
        step_one = model(keypoints, torch.zeros_like(velocity))
        step_two = model(keypoints, velocity)
    assert torch.equal(inference.sequence, step_one.sequence)
    assert not torch.allclose(step_two.sequence, step_one.sequence)
    with pytest.raises(ValueError, match="velocity must be shaped"):
        model(keypoints, velocity[..., :2])


def test_tmt_adds_only_the_three_extra_embedding_inputs():
    """MixSTE's joint embedding is Linear(C -> d_m): 3 more input channels add 3 * 32 weights to the demo."""
    torch.manual_seed(0)
    plain = build_model("mixste", "demo")
    tmt = build_model("mixste-tmt", "demo")
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert count(tmt) - count(plain) == 3 * 32


def test_tmt_config_checks_backbone_and_channels():
    config = load_model_config("mixste-tmt", "demo")
    assert config.backbone == "mixste" and config.backbone_config.input_channels == 5
    with pytest.raises(ValueError, match="input_channels=2"):
        TMTConfig(backbone="mixste", backbone_config=MixSTEConfig())
    with pytest.raises(ValueError, match="'poseformer'"):
        TMTConfig(backbone="poseformer")
    with pytest.raises(ValueError, match="needs a StridedTransformerConfig"):
        TMTConfig(backbone="strided", backbone_config=MixSTEConfig(input_channels=5))
