"""On CUDA, a training step and an AMASS conversion give the CPU's numbers (``gpu`` marker: skipped without CUDA).

Both runs use float32 on both devices with TF32 off, so the only differences are the order of floating-point
reductions: relative differences of about 1e-6, far below the tolerances (a wrong device transfer, a
tensor left on the CPU or a kernel that silently changes precision would be far above them).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from datasets.amass.config import AmassConfig
from datasets.amass.convert import convert_amass_file
from datasets.amass.discovery import discover, manifest_files
from datasets.synthetic.amass_archive import build_demo_amass
from lifting.models import build_model
from lifting.training import LiftingObjective, LossConfig, train_step

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def float32_matmuls():
    """TF32 off for the test (it would round matmul inputs to 10 mantissa bits), restored afterwards."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def _one_step(device: str) -> tuple[float, dict[str, torch.Tensor]]:
    """One SGD step (lr 0.1) of the demo MixSTE without drop path on a fixed random batch on ``device``.

    Returns:
        ``(loss, parameters after the step on the CPU)``.
    """
    torch.manual_seed(0)  # the same initial weights on both devices: built on the CPU, then moved
    model = build_model("mixste", "demo", overrides={"drop_path": 0.0}).to(device)
    generator = torch.Generator().manual_seed(1)
    batch = {
        "keypoints": torch.rand(4, 27, 17, 2, generator=generator) * 2 - 1,
        "joints_3d": torch.rand(4, 27, 17, 3, generator=generator) - 0.5,
    }
    batch = {name: value.to(device) for name, value in batch.items()}
    objective = LiftingObjective("mpjpe", LossConfig(kind="mpjpe"), "h36m17")
    metrics = train_step(model, batch, torch.optim.SGD(model.parameters(), lr=0.1), objective)
    return float(metrics["loss"]), {name: value.detach().cpu() for name, value in model.named_parameters()}


def test_a_training_step_on_cuda_matches_the_cpu():
    """Loss to 1e-5 relative; every updated weight to 1e-5 (weights of order 0.1, steps of order 1e-3)."""
    cpu_loss, cpu_parameters = _one_step("cpu")
    cuda_loss, cuda_parameters = _one_step("cuda")
    assert cuda_loss == pytest.approx(cpu_loss, rel=1e-5)
    for name, value in cpu_parameters.items():
        torch.testing.assert_close(cuda_parameters[name], value, rtol=1e-4, atol=1e-5, msg=name)


def test_an_amass_conversion_with_the_body_model_on_cuda_matches_the_cpu(tmp_path):
    """The demo archive's first good file: the same views, joints within 1e-5 m, 2D within 5e-3 px
    (float32 rounding of about 1e-6 m at 4 m and a focal length near 1000 px moves a point by about 3e-4 px)."""
    paths = build_demo_amass(tmp_path)
    config = AmassConfig(amass_root=paths.amass_root, body_models=paths.body_models, regressor=paths.regressor,
                         regressor_order=paths.regressor_order, device="cpu")  # fmt: skip
    item = manifest_files(discover(config))[0]
    on_cpu = convert_amass_file(item, config)
    on_cuda = convert_amass_file(item, replace(config, device="cuda"))
    assert isinstance(on_cpu, list) and isinstance(on_cuda, list), (on_cpu, on_cuda)
    assert [view.describe() for view in on_cuda] == [view.describe() for view in on_cpu]
    for cpu_view, cuda_view in zip(on_cpu, on_cuda, strict=True):
        np.testing.assert_allclose(cuda_view.joints_3d, cpu_view.joints_3d, atol=1e-5)
        np.testing.assert_allclose(cuda_view.keypoints_2d, cpu_view.keypoints_2d, atol=5e-3)
