"""Uplift-and-Upsample: masked first block, key-frame reach, one model for all strides.

The demo preset has 27 tokens at s_out = 5 (N = 131) and accepts s_in in {5, 10, 20}.
"""

from __future__ import annotations

import pytest
import torch

from lifting.models import UpliftUpsampleConfig, build_model, key_frame_mask


@pytest.fixture
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("uplift-upsample", "demo").eval()


@pytest.fixture
def keypoints() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(2, 27, 17, 2, generator=generator) * 2 - 1


def test_key_frame_mask_by_hand():
    """27 tokens, s_out 5, s_in 20, centred: token i shows frame -65 + 5 i (centre token 13 is frame 0).

    Multiples of 20: i = 1 (-60), 5 (-40), 9 (-20), 13 (0), 17 (20), 21 (40), 25 (60).
    From first frame 0: i = 0, 4, 8, ..., 24. From first frame 5: frames 5 + 5 i, i = 3, 7, ..., 23.
    """
    centred = key_frame_mask(27, 5, 20)
    assert centred.shape == (1, 27)
    assert centred[0].nonzero().flatten().tolist() == [1, 5, 9, 13, 17, 21, 25]
    per_sample = key_frame_mask(27, 5, 20, first_frame=torch.tensor([0, 5]))
    assert per_sample[0].nonzero().flatten().tolist() == list(range(0, 27, 4))
    assert per_sample[1].nonzero().flatten().tolist() == list(range(3, 27, 4))
    assert key_frame_mask(27, 5, 5).all()
    with pytest.raises(ValueError, match="s_in=7"):
        key_frame_mask(27, 5, 7)


def test_upsampling_token_does_not_reach_pose_tokens_through_the_first_temporal_block(model, keypoints):
    """Keys and values of the first temporal block come from key-frames only (Sec. 3.2)."""
    captured = []
    hook = model.temporal_blocks[0].register_forward_hook(lambda module, args, output: captured.append(output))
    mask = model.key_frame_mask(20, batch_size=2)
    with torch.no_grad():
        model(keypoints, mask)
        model.upsampling_token.add_(
            torch.randn(model.upsampling_token.shape, generator=torch.Generator().manual_seed(2))
        )
        model(keypoints, mask)
    hook.remove()
    before, after = captured
    key = mask[0]
    torch.testing.assert_close(after[:, key], before[:, key], rtol=0, atol=1e-6)
    assert (after[:, ~key] - before[:, ~key]).abs().amax() > 1e-3  # the upsampling positions did change


def test_a_key_frame_input_changes_every_output_frame(model, keypoints):
    mask = model.key_frame_mask(20, batch_size=2)
    moved = keypoints.clone()
    moved[:, 5, 3] += 0.5  # token 5 is a key-frame at s_in = 20
    with torch.no_grad():
        before, after = model(keypoints, mask), model(moved, mask)
    per_token_change = (after.sequence - before.sequence).abs().amax(dim=(2, 3))  # (B, N)
    assert (per_token_change > 1e-6).all()
    assert ((after.centre - before.centre).abs().amax(dim=(1, 2)) > 1e-6).all()


def test_non_key_frame_inputs_are_ignored(model, keypoints):
    mask = model.key_frame_mask(10, batch_size=2)
    noisy = keypoints.clone()
    noisy[~mask] = 100.0
    with torch.no_grad():
        clean, dirty = model(keypoints, mask), model(noisy, mask)
    torch.testing.assert_close(dirty.sequence, clean.sequence, rtol=0, atol=1e-6)
    torch.testing.assert_close(dirty.centre, clean.centre, rtol=0, atol=1e-6)


def test_the_same_weights_run_at_every_configured_input_stride(model, keypoints):
    outputs = {}
    with torch.no_grad():
        for stride in (5, 10, 20):
            outputs[stride] = model(keypoints, input_stride=stride)
            assert torch.isfinite(outputs[stride].sequence).all()
            by_mask = model(keypoints, model.key_frame_mask(stride, batch_size=2))
            assert torch.equal(by_mask.centre, outputs[stride].centre)
    assert not torch.allclose(outputs[5].centre, outputs[20].centre)  # fewer key-frames, another prediction
    with pytest.raises(ValueError, match="input stride 15"):
        model(keypoints, input_stride=15)


def test_forward_needs_exactly_one_of_mask_and_stride_and_a_key_frame(model, keypoints):
    with pytest.raises(ValueError, match="exactly one"):
        model(keypoints)
    with pytest.raises(ValueError, match="at least one key-frame"):
        model(keypoints, torch.zeros(2, 27, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(B, 27, 17, 2\)"):
        model(keypoints[:, :26], input_stride=5)


def test_paper_presets_reduce_their_tokens_to_one():
    """N = 351: 71 tokens, strides 3, 10, 3 -> 23, 3, 1. N = 81: 41 tokens, pad 1 + stride 4 -> 11, 4 -> 3, 3 -> 1."""
    assert UpliftUpsampleConfig().strided_lengths == [71, 23, 3, 1]
    short = UpliftUpsampleConfig(receptive_field=81, output_stride=2, input_strides=(4, 10, 20),
                                 strides=(4, 4, 3), paddings=((1, 1), (0, 0), (0, 0)))  # fmt: skip
    assert (short.num_tokens, short.strided_lengths) == (41, [41, 11, 3, 1])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strides": (3, 3, 3)}, r"lengths \[71, 23, 7, 2\]"),
        ({"receptive_field": 350}, "receptive_field=350"),
        ({"input_strides": (5, 12)}, r"\(5, 12\)"),
        ({"paddings": ((0, 0),)}, "one \\(before, after\\) pair per stride"),
        ({"temporal_dim": 100}, "temporal_dim=100"),
        ({"joint_drop_path": 1.5}, "joint_drop_path"),
        ({"skeleton": "nope"}, "'nope'"),
    ],
)
def test_config_rejects_inconsistent_values_naming_them(changes, message):
    with pytest.raises(ValueError, match=message):
        UpliftUpsampleConfig(**changes)
