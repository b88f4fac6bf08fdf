"""MixSTE (spatial and temporal mixing, any T) and the Strided Transformer (full receptive field, sparse variant)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lifting.models import MixSTE, MixSTEConfig, StridedTransformer, StridedTransformerConfig, build_model
from lifting.models.norms import StdEpsLayerNorm


def _keypoints(frames: int, batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, frames, 17, 2, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture
def mixste() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mixste", "demo").eval()


def test_mixste_mixes_frames_and_joints(mixste):
    """Moving joint 3 of frame 0 must move joint 3 at frame 6 (temporal) and joint 10 at frame 0 (spatial)."""
    keypoints = _keypoints(9)
    moved = keypoints.clone()
    moved[:, 0, 3] += 0.5
    with torch.no_grad():
        change = (mixste(moved).sequence - mixste(keypoints).sequence).abs().amax(dim=-1)  # (B, T, J)
    assert (change[:, 6, 3] > 1e-6).all(), "no temporal mixing"
    assert (change[:, 0, 10] > 1e-6).all(), "no spatial mixing"
    assert (change[:, 6, 10] > 1e-6).all(), "no mixing across both"


@pytest.mark.parametrize("frames", [1, 2, 9, 27])
def test_mixste_is_seq2seq_for_any_length_up_to_the_maximum(mixste, frames):
    with torch.no_grad():
        output = mixste(_keypoints(frames))
    assert output.sequence.shape == (2, frames, 17, 3)
    torch.testing.assert_close(output.centre, output.sequence[:, frames // 2])


def test_mixste_rejects_windows_longer_than_its_positional_embedding(mixste):
    with pytest.raises(ValueError, match="max_frames=27, got T=28"):
        mixste(_keypoints(28))


def test_mixste_config_validation_names_the_values():
    with pytest.raises(ValueError, match="dim=500 must be divisible by its head count 8"):
        MixSTEConfig(dim=500)
    with pytest.raises(ValueError, match="drop_path"):
        MixSTEConfig(drop_path=-0.1)
    assert isinstance(MixSTE(MixSTEConfig(dim=16, depth=1, num_heads=2, max_frames=4)), MixSTE)


@pytest.fixture
def strided() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("strided", "demo").eval()


def test_strided_centre_sees_every_frame_and_sequence_has_all_frames(strided):
    """Strides 3, 3, 3 on 27 frames end in one token whose receptive field is the whole window."""
    keypoints = _keypoints(27)
    with torch.no_grad():
        base = strided(keypoints)
        for frame in (0, 13, 26):
            moved = keypoints.clone()
            moved[:, frame] += 0.3
            assert ((strided(moved).centre - base.centre).abs().amax(dim=(1, 2)) > 1e-6).all(), frame
    assert base.sequence.shape == (2, 27, 17, 3)
    with pytest.raises(ValueError, match=r"\(B, 27, 17, 2\)"):
        strided(_keypoints(26))


def test_strided_sparse_attention_is_an_option_of_the_vanilla_encoder_attention_only():
    """Same weights, sparse vs full attention in the VTE: same parameters, different outputs."""
    torch.manual_seed(0)
    sparse = build_model("strided", "demo", {"vte_attention": "strided_sparse", "sparse_stride": 3}).eval()
    full = StridedTransformer(dataclasses.replace(sparse.config, vte_attention="full")).eval()
    full.load_state_dict(sparse.state_dict())
    assert [block.attention.sparse_stride for block in sparse.vanilla_blocks] == [3, 3]
    assert all(block.attention.sparse_stride is None for block in sparse.strided_blocks)
    keypoints = _keypoints(27)
    with torch.no_grad():
        assert not torch.allclose(sparse(keypoints).sequence, full(keypoints).sequence)


def test_strided_config_checks_the_strides_reduce_to_one_frame():
    """351 frames, padding 1, kernel 3: strides 3, 9, 13 give 117, 13, 1; strides 3, 3, 3 leave 13."""
    assert StridedTransformerConfig().strided_lengths == [351, 117, 13, 1]
    with pytest.raises(ValueError, match=r"lengths \[351, 117, 39, 13\]"):
        StridedTransformerConfig(strides=(3, 3, 3))
    assert StridedTransformerConfig(frames=27, strides=(3, 3, 3)).effective_sparse_stride == 5  # round(sqrt 27)
    with pytest.raises(ValueError, match="vte_attention"):
        StridedTransformerConfig(vte_attention="local")


def test_std_eps_layer_norm_divides_by_the_unbiased_std_plus_eps():
    """Row (1, 3): mean 2, unbiased std sqrt(((-1)^2 + 1^2) / 1) = sqrt(2), so (-1, 1) / (sqrt(2) + eps).

    ``nn.LayerNorm`` (biased variance 1) would give (-1, 1); gain (2, 1) and bias (0, 0.5) apply afterwards.
    """
    norm = StdEpsLayerNorm(2, eps=0.1)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([2.0, 1.0]))
        norm.bias.copy_(torch.tensor([0.0, 0.5]))
    expected = torch.tensor([-2.0, 1.0]) / (2**0.5 + 0.1) + torch.tensor([0.0, 0.5])
    torch.testing.assert_close(norm(torch.tensor([[1.0, 3.0]])), expected[None])
    assert set(dict(norm.named_parameters())) == set(dict(torch.nn.LayerNorm(2).named_parameters()))
