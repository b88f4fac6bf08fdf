"""What every model must do: determinism, gradients everywhere, bf16, SDPA = einsum."""

from __future__ import annotations

import pytest
import torch

from lifting.models import MODELS, LiftingOutput, build_model, set_attention_backend

ALL_MODELS = sorted(MODELS)


def _demo(model_name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(model_name, "demo")


def _inputs(model: torch.nn.Module, batch: int = 2, seed: int = 1) -> dict[str, torch.Tensor]:
    """The model's example inputs with the keypoints replaced by random values in [-1, 1]."""
    inputs = model.example_inputs(batch_size=batch)
    generator = torch.Generator().manual_seed(seed)
    inputs["keypoints"] = torch.rand(inputs["keypoints"].shape, generator=generator) * 2 - 1
    return inputs


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_same_seed_same_weights_and_same_training_forward(model_name):
    first, second = _demo(model_name), _demo(model_name)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    inputs = _inputs(first)
    torch.manual_seed(5)  # drop path and dropout draw from the global generator in training mode
    out_first = first.train()(**inputs)
    torch.manual_seed(5)
    out_second = second.train()(**inputs)
    assert torch.equal(out_first.sequence, out_second.sequence)
    assert torch.equal(out_first.centre, out_second.centre)
    other_seed = _demo(model_name, seed=1)
    assert any(not torch.equal(a, b) for a, b in zip(first.parameters(), other_seed.parameters(), strict=True))


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_gradients_reach_every_parameter(model_name):
    model = _demo(model_name).eval()  # eval: no branch dropped by drop path, so every block is on the path
    output = model(**_inputs(model))
    (output.sequence.square().mean() + output.centre.square().mean()).backward()
    frozen = {name.rsplit(".", 2)[-2] for name, parameter in model.named_parameters() if not parameter.requires_grad}
    assert frozen <= {"vanilla_norm", "strided_norm"}  # the Strided Transformer's unapplied final norms only
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            assert parameter.grad is None, f"{name} is frozen but got a gradient"
            continue
        assert parameter.grad is not None, f"{name} got no gradient"
        assert parameter.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_bf16_autocast_forward_runs_and_stays_close_to_float32(model_name):
    model = _demo(model_name).eval()
    inputs = _inputs(model)
    with torch.no_grad():
        reference = model(**inputs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(**inputs)
    for name in LiftingOutput._fields:
        value = getattr(low, name)
        assert value.dtype == torch.bfloat16, name
        assert torch.isfinite(value).all(), name
        # bf16 keeps 8 mantissa bits: outputs of order 1 agree to a few hundredths.
        scale = getattr(reference, name).abs().max()
        assert (value.float() - getattr(reference, name)).abs().max() <= 0.05 * scale + 0.05, name


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_sdpa_model_equals_the_same_model_with_einsum_attention(model_name):
    model = _demo(model_name).eval()
    inputs = _inputs(model)
    with torch.no_grad():
        fused = model(**inputs)
        reference = set_attention_backend(model, "einsum")(**inputs)
    torch.testing.assert_close(fused.sequence, reference.sequence, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(fused.centre, reference.centre, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_each_sample_is_lifted_on_its_own_in_the_documented_shapes(model_name):
    """Sequence (B, T_out, 17, 3) with T_out the window's tokens/frames; centre (B, 17, 3). In eval mode a
    sample's output depends on that sample only: reversing the batch reverses the outputs, and replacing
    sample 0 leaves samples 1 and 2 unchanged (a reshape that mixed batch and time would break both)."""
    model = _demo(model_name).eval()
    inputs = _inputs(model, batch=3)
    with torch.no_grad():
        output = model(**inputs)
        reversed_output = model(**{name: value.flip(0) for name, value in inputs.items()})
        changed = dict(inputs, keypoints=inputs["keypoints"].clone())
        changed["keypoints"][0] = -changed["keypoints"][0]
        changed_output = model(**changed)
    frames = inputs["keypoints"].shape[1]
    assert output.sequence.shape == (3, frames, 17, 3)
    assert output.centre.shape == (3, 17, 3)
    for name in LiftingOutput._fields:
        value = getattr(output, name)
        torch.testing.assert_close(getattr(reversed_output, name), value.flip(0), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(getattr(changed_output, name)[1:], value[1:], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(getattr(changed_output, name)[0], value[0]), name


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_the_centre_sees_every_input_frame_and_uplift_upsample_only_its_key_frames(model_name):
    """Receptive field of the centre prediction, read off the gradient of the centre w.r.t. the input.

    MixSTE and the Strided Transformer attend over the whole window, so every input frame moves the centre.
    Uplift-and-Upsample replaces non-key-frame inputs by its upsampling token (Sec. 3.2), so their
    gradient is exactly zero and every key-frame's is not.
    """
    model = _demo(model_name).eval()
    inputs = _inputs(model, batch=1)
    keypoints = inputs["keypoints"].requires_grad_()
    model(**inputs).centre.sum().backward()
    per_frame = keypoints.grad.abs().sum(dim=(0, 2, 3))  # (T,)
    if "key_frame_mask" in inputs:
        key = inputs["key_frame_mask"][0]
        assert 0 < int(key.sum()) < key.numel()  # the demo's example mask leaves frames to upsample
        assert torch.all(per_frame[~key] == 0)
        assert torch.all(per_frame[key] > 0)
    else:
        assert torch.all(per_frame > 0)


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_wrong_joint_count_is_rejected_with_the_expected_shape(model_name):
    model = _demo(model_name)
    inputs = _inputs(model)
    inputs["keypoints"] = inputs["keypoints"][:, :, :16]
    with pytest.raises(ValueError, match="17"):
        model(**inputs)


@pytest.mark.parametrize("model_name", ALL_MODELS)
def test_training_forward_compiles_into_one_graph(model_name):
    """torch.compile sees each model's training forward as one graph: no graph break (e.g. a Tensor.item())."""
    model = _demo(model_name).train()
    explanation = torch._dynamo.explain(model)(**_inputs(model))
    torch._dynamo.reset()
    assert explanation.graph_break_count == 0, [str(reason.reason) for reason in explanation.break_reasons]
    assert explanation.graph_count == 1
