"""Our models and MixSTE's loss against outputs of the authors' released code.

The fixtures ``tests/golden/released_*.npz`` were written once by ``tests/golden/make_released_goldens.py`` (its
docstring gives the command): it built the released ``Model`` of Vegetebird/StridedTransformer-Pose3D (27 frames,
strides [3, 3, 3], width 16, FFN 32, 2 vanilla layers) and the released ``MixSTE2`` of JinluZhang1126/MixSTE
(9 frames, width 16, depth 2, 4 heads), overwrote every parameter and buffer with seeded random values (stored as
float32, run in float64, evaluation mode), and saved their weights under the released names, the random input and
the released outputs; for the loss, it executed the lines of MixSTE's ``run.py`` that compute the weighted MPJPE,
the TCLoss (``dif_seq``) and the total, on random (3, 7, 17, 3) poses. The weights are mapped into ours by
``lifting.released.torch_layouts`` (renames and a q/k/v concatenation, no arithmetic), so the same float64
arithmetic must give the same numbers up to summation order: 1e-9.

The same script with ``--check-full`` compared the full released N = 351 Strided Transformer (width 256, strides
[3, 9, 13]) with ours: max |diff| 1.0e-10 (centre) and 7.6e-11 (sequence), float64, random weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lifting.losses import mixste_loss, temporal_consistency_loss
from lifting.models.mixste import MixSTE, MixSTEConfig
from lifting.models.strided import StridedTransformer, StridedTransformerConfig
from lifting.released.torch_layouts import mixste_from_released, strided_from_released

GOLDEN = Path(__file__).parent / "golden"
TOLERANCE = 1e-9


def _load(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A fixture split into its released parameters (``param/`` prefix removed) and its other arrays."""
    with np.load(GOLDEN / name) as data:
        params = {k.removeprefix("param/"): data[k] for k in data.files if k.startswith("param/")}
        arrays = {k: data[k] for k in data.files if not k.startswith("param/")}
    return params, arrays


def _float64_state(mapped: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    tensors = {k: torch.from_numpy(v) for k, v in mapped.items()}
    return {k: v.double() if v.is_floating_point() else v for k, v in tensors.items()}


def test_strided_transformer_equals_the_released_model():
    """Released ``Model`` (27 frames, strides [3, 3, 3], width 16) and ours agree on both outputs to 1e-9.

    The released encoders never apply their final norms, and their norm divides by unbiased std + eps; measured on
    this fixture (outputs up to about 16), applying the final norms would move the sequence output by 10.9,
    ``nn.LayerNorm`` instead of the released norm by 1.0.
    """
    params, arrays = _load("released_strided.npz")
    config = StridedTransformerConfig(frames=27, strides=(3, 3, 3), dim=16, ffn_dim=32, vanilla_depth=2)
    model = StridedTransformer(config).double().eval()
    model.load_state_dict(_float64_state(strided_from_released(params)), strict=True)
    with torch.no_grad():
        output = model(torch.from_numpy(arrays["keypoints"]).double())
    assert np.abs(arrays["sequence"]).max() > 0.1  # the comparison is not between near-zero outputs
    np.testing.assert_allclose(output.sequence.numpy(), arrays["sequence"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(output.centre.numpy(), arrays["centre"], rtol=0, atol=TOLERANCE)


def test_strided_transformer_keeps_the_released_parameter_names_and_count():
    """Strict loading above needs a one-to-one mapping; the released model's parameter count is ours too."""
    params, _ = _load("released_strided.npz")
    config = StridedTransformerConfig(frames=27, strides=(3, 3, 3), dim=16, ffn_dim=32, vanilla_depth=2)
    model = StridedTransformer(config)
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    released_count = sum(value.size for name, value in params.items() if not name.endswith(buffers))
    assert sum(p.numel() for p in model.parameters()) == released_count


def test_mixste_equals_the_released_model():
    """Released ``MixSTE2`` (9 frames, width 16, depth 2, 4 heads) and ours agree on every output to 1e-9."""
    params, arrays = _load("released_mixste.npz")
    config = MixSTEConfig(max_frames=9, dim=16, depth=2, num_heads=4, drop_path=0.0)
    model = MixSTE(config).double().eval()
    model.load_state_dict(_float64_state(mixste_from_released(params)), strict=True)
    with torch.no_grad():
        output = model(torch.from_numpy(arrays["keypoints"]).double())
    assert np.abs(arrays["sequence"]).max() > 0.1
    np.testing.assert_allclose(output.sequence.numpy(), arrays["sequence"], rtol=0, atol=TOLERANCE)


@pytest.fixture(scope="module")
def released_loss() -> dict[str, np.ndarray]:
    """The released MixSTE loss lines' inputs and values (see the module docstring)."""
    return _load("released_mixste_loss.npz")[1]


def test_tcloss_equals_the_released_training_script(released_loss):
    """Our TCLoss with the released joint weights equals the released ``dif_seq`` on the same (3, 7, 17, 3) poses."""
    predicted = torch.from_numpy(released_loss["predicted"])
    weights = torch.from_numpy(released_loss["joint_weights"])
    value = temporal_consistency_loss(predicted, weights)
    assert value.item() == pytest.approx(float(released_loss["tcloss"]), rel=1e-12)


def test_mixste_loss_equals_the_released_total(released_loss):
    """WMPJPE + 0.5 TCLoss + 2.0 MPJVE equals the released ``loss_total`` (what its backward starts from)."""
    predicted, target = (torch.from_numpy(released_loss[k]) for k in ("predicted", "target"))
    value = mixste_loss(predicted, target, torch.from_numpy(released_loss["joint_weights"]))
    assert value.item() == pytest.approx(float(released_loss["total"]), rel=1e-12)
