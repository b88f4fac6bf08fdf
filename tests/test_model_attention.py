"""Attention: SDPA against the einsum reference, sparse masks, and the shared strided block."""

from __future__ import annotations

import pytest
import torch

from lifting.models.attention import (
    ATTENTION_KERNELS,
    MultiHeadSelfAttention,
    attend,
    choose_attention_kernel,
    einsum_attention,
    set_attention_backend,
    strided_sparse_attention_mask,
)
from lifting.models.blocks import DropPath, StridedTransformerBlock, linear_drop_path_rates, strided_output_length


def _qkv(generator: torch.Generator, batch: int = 2, heads: int = 4, length: int = 7, width: int = 8):
    return [torch.randn(batch, heads, length, width, generator=generator) for _ in range(3)]


def test_einsum_attention_matches_a_hand_computed_case():
    """One query, two keys: logits q.k / sqrt(2) = (0, 2/sqrt(2)) -> weights (1, e^sqrt2) / (1 + e^sqrt2).

    Values 0 and 1, so the output is e^sqrt2 / (1 + e^sqrt2) = sigmoid(sqrt 2) = 0.80443...
    """
    query = torch.tensor([[[[1.0, 1.0]]]])  # (1, 1, 1, 2)
    key = torch.tensor([[[[0.0, 0.0], [1.0, 1.0]]]])  # (1, 1, 2, 2)
    value = torch.tensor([[[[0.0], [1.0]]]])
    expected = torch.sigmoid(torch.tensor(2.0).sqrt())
    assert einsum_attention(query, key, value).item() == pytest.approx(expected.item(), abs=1e-6)
    only_first = torch.tensor([[True, False]])
    assert einsum_attention(query, key, value, only_first).item() == 0.0


@pytest.mark.parametrize("mask_kind", ["none", "keys", "per_head"])
def test_sdpa_equals_einsum_reference(mask_kind):
    generator = torch.Generator().manual_seed(0)
    query, key, value = _qkv(generator)
    mask = None
    if mask_kind == "keys":  # (B, 1, 1, S): some keys hidden from every query, as Uplift's first block
        mask = torch.tensor([[1, 0, 1, 0, 0, 1, 1], [0, 0, 0, 1, 0, 0, 0]], dtype=torch.bool)[:, None, None, :]
    elif mask_kind == "per_head":
        mask = strided_sparse_attention_mask(7, 4, stride=3)
    expected = einsum_attention(query, key, value, mask)
    actual = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)


def test_attention_module_backends_agree_in_float32_and_under_bf16_autocast():
    torch.manual_seed(0)
    attention = MultiHeadSelfAttention(dim=16, num_heads=4).eval()
    tokens = torch.randn(3, 10, 16)
    mask = torch.rand(3, 1, 1, 10) > 0.5
    mask[..., 0] = True
    reference = set_attention_backend(attention, "einsum")(tokens, mask)
    fused = set_attention_backend(attention, "sdpa")(tokens, mask)
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused_bf16 = attention(tokens, mask)
    assert fused_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(fused_bf16.float(), reference, rtol=0.05, atol=0.05)


def test_sparse_option_of_the_attention_layer_applies_the_strided_pattern():
    """An attention layer with sparse_stride l equals the full layer given the (H, L, L) strided mask."""
    torch.manual_seed(0)
    sparse = MultiHeadSelfAttention(dim=16, num_heads=4, sparse_stride=3).eval()
    full = MultiHeadSelfAttention(dim=16, num_heads=4).eval()
    full.load_state_dict(sparse.state_dict())
    tokens = torch.randn(2, 11, 16)
    expected = set_attention_backend(full, "einsum")(tokens, strided_sparse_attention_mask(11, 4, 3))
    torch.testing.assert_close(sparse(tokens), expected, rtol=1e-5, atol=1e-6)
    key_mask = torch.ones(2, 1, 1, 11, dtype=torch.bool)
    key_mask[..., :2] = False  # hide keys 0 and 1: every row still keeps key 2 (local) and 3, 6 or 9 (strided)
    both = strided_sparse_attention_mask(11, 4, 3) & key_mask
    torch.testing.assert_close(sparse(tokens, key_mask), full(tokens, both), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="heads=3"):
        MultiHeadSelfAttention(dim=12, num_heads=3, sparse_stride=2)


@pytest.mark.parametrize(
    ("device", "head_dim", "length", "expected"),
    [
        ("cuda", 4, 17, "einsum"),  # Uplift-and-Upsample spatial: 32-wide joints, 8 heads, 17 joints
        ("cuda", 4, 351, "einsum"),  # a head narrower than 16 skips SDPA at any length
        ("cuda", 64, 17, "einsum"),  # MixSTE spatial: 17 tokens, far below one flash tile
        ("cuda", 48, 63, "einsum"),  # one short of SHORT_SEQUENCE
        ("cuda", 16, 64, "sdpa"),  # both thresholds met exactly
        ("cuda", 64, 243, "sdpa"),  # MixSTE temporal
        ("cuda", 32, 351, "sdpa"),  # Strided Transformer temporal
        ("cpu", 4, 17, "sdpa"),  # CPU keeps the fused SDPA kernel (numbers as before the choice existed)
        ("mps", 4, 17, "sdpa"),
    ],
)
def test_auto_kernel_choice(device, head_dim, length, expected):
    assert choose_attention_kernel(device, head_dim, length) == expected


@pytest.mark.parametrize("kernel", ATTENTION_KERNELS)
@pytest.mark.parametrize("mask_kind", ["none", "keys", "per_head"])
def test_every_kernel_equals_the_einsum_reference(kernel, mask_kind):
    """Every kernel, masked or not, gives einsum_attention's numbers (same float32 inputs)."""
    generator = torch.Generator().manual_seed(1)
    query, key, value = _qkv(generator, batch=3, heads=4, length=9, width=4)
    mask = None
    if mask_kind == "keys":
        mask = torch.rand(3, 1, 1, 9, generator=generator) > 0.5
        mask[..., 4] = True
    elif mask_kind == "per_head":
        mask = strided_sparse_attention_mask(9, 4, stride=3)
    expected = einsum_attention(query, key, value, mask)
    torch.testing.assert_close(attend(kernel, query, key, value, mask), expected, rtol=1e-5, atol=1e-6)


def test_auto_backend_runs_the_chosen_kernel(monkeypatch):
    """A layer left at "auto" asks choose_attention_kernel with (device type, head width, length) and runs its
    answer: 16 wide, 4 heads -> head width 4; 10 tokens."""
    import lifting.models.attention as attention_module

    asked, ran = [], []
    original = attention_module.attend

    def recording_attend(kernel, *arguments):
        ran.append(kernel)
        return original(kernel, *arguments)

    monkeypatch.setattr(attention_module, "attend", recording_attend)
    monkeypatch.setattr(attention_module, "choose_attention_kernel", lambda *shape: asked.append(shape) or "einsum")
    layer = MultiHeadSelfAttention(dim=16, num_heads=4).eval()
    assert layer.backend == "auto"
    layer(torch.randn(2, 10, 16))
    assert (asked, ran) == ([("cpu", 4, 10)], ["einsum"])
    set_attention_backend(layer, "sdpa-no-flash")(torch.randn(2, 10, 16))
    assert ran[-1] == "sdpa-no-flash" and len(asked) == 1


def test_set_attention_backend_rejects_unknown_names():
    with pytest.raises(ValueError, match="'flash'"):
        set_attention_backend(MultiHeadSelfAttention(8, 2), "flash")


def test_strided_sparse_mask_by_hand():
    """L = 5, l = 2, 2 heads. Head 0 (local): |i - j| < 2, a band of width 3.

    Head 1 (strided): (i - j) mod 2 == 0, a checkerboard of equal parity.
    """
    mask = strided_sparse_attention_mask(5, num_heads=2, stride=2).int()
    local = [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 1, 1]]
    strided = [[1, 0, 1, 0, 1], [0, 1, 0, 1, 0], [1, 0, 1, 0, 1], [0, 1, 0, 1, 0], [1, 0, 1, 0, 1]]
    assert mask.tolist() == [local, strided]
    with pytest.raises(ValueError, match="num_heads=3"):
        strided_sparse_attention_mask(5, num_heads=3, stride=2)


@pytest.mark.parametrize(
    ("length", "stride", "padding", "expected"),
    [
        (351, 3, (1, 1), 117),  # Strided Transformer, N = 351: floor((351 + 2 - 3) / 3) + 1
        (13, 13, (1, 1), 1),  # its last layer: floor(12 / 13) + 1
        (71, 3, (0, 0), 23),  # Uplift N = 351: floor(68 / 3) + 1 = 23 = ceil((71 - 2) / 3)
        (23, 10, (0, 0), 3),  # floor(20 / 10) + 1
        (41, 4, (1, 1), 11),  # Uplift N = 81: floor(40 / 4) + 1
        (2, 2, (0, 0), 0),  # the kernel does not fit
    ],
)
def test_strided_output_length(length, stride, padding, expected):
    assert strided_output_length(length, stride, padding) == expected


@pytest.mark.parametrize(("padding", "kept"), [((1, 1), [0, 3, 6]), ((0, 0), [1, 4, 7]), ((1, 0), [0, 3, 6])])
def test_strided_block_residual_keeps_the_kernel_centres(padding, kept):
    """With the attention output and the strided convolution zeroed, the block returns only its residual.

    L = 9, s = 3, k = 3. Padding (1, 1): kernels centred on tokens 0, 3, 6. No padding: the first kernel covers
    tokens 0-2, centred on 1, so 1, 4, 7. Padding (1, 0): floor((9 + 1 - 3) / 3) + 1 = 3 outputs, centres 0, 3, 6.
    """
    block = StridedTransformerBlock(dim=4, num_heads=2, hidden_dim=8, stride=3, padding=padding, position_length=9)
    with torch.no_grad():
        block.position.zero_()
        block.attention.projection.weight.zero_()
        block.attention.projection.bias.zero_()
        block.reduce.weight.zero_()
        block.reduce.bias.zero_()
    tokens = torch.arange(9.0)[None, :, None].expand(1, 9, 4)
    assert block(tokens)[0, :, 0].tolist() == [float(k) for k in kept]


def test_drop_path_rates_and_scaling():
    """Rates 0, 0.05, 0.1 over three blocks; a kept sample is scaled by 1 / (1 - 0.5) = 2."""
    assert linear_drop_path_rates(0.1, 3) == pytest.approx([0.0, 0.05, 0.1])
    assert linear_drop_path_rates(0.1, 1) == [0.0]
    drop = DropPath(0.5).train()
    torch.manual_seed(0)
    out = drop(torch.ones(64, 3))
    assert set(out.unique().tolist()) <= {0.0, 2.0} and 0 < out[:, 0].count_nonzero() < 64
    assert torch.equal(drop.eval()(torch.ones(4, 3)), torch.ones(4, 3))
    with pytest.raises(ValueError, match="1.0"):
        DropPath(1.0)
