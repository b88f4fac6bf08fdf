"""Fast training defaults: compile choice, metrics held on the device and written in groups."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from conftest import synthetic_views
from torch import nn

from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from lifting.models import LiftingOutput
from lifting.models.common import keypoint_inputs
from lifting.training import LiftingObjective, LossConfig, TrainingConfig, read_metrics, train, train_step
from lifting.training.records import PendingSteps, RunRecords

TINY_STRIDED = {"frames": 9, "strides": [3, 3], "dim": 16, "ffn_dim": 32, "num_heads": 2, "vanilla_depth": 1}


def test_compile_is_on_for_cuda_only_unless_set_and_small_batches_replay_cuda_graphs():
    """compile=None: CUDA yes, CPU no; an explicit value wins. Mode "auto": CUDA graphs up to 16 windows per
    process (MixSTE's released 4 clips), the default mode above and off CUDA; an explicit mode passes through."""
    config = TrainingConfig()
    assert (config.compiles_on("cuda"), config.compiles_on("cpu")) == (True, False)
    assert TrainingConfig(compile=False).compiles_on("cuda") is False
    assert TrainingConfig(compile=True).compiles_on("cpu") is True
    assert [config.compile_mode_for("cuda", n) for n in (4, 16, 17)] == ["reduce-overhead"] * 2 + ["default"]
    assert config.compile_mode_for("cpu", 4) == "default"
    assert TrainingConfig(compile_mode="default").compile_mode_for("cuda", 4) == "default"
    with pytest.raises(ValueError, match="compile_mode must be one of"):
        TrainingConfig(compile_mode="fast")
    with pytest.raises(ValueError, match="compile must be true, false or null"):
        TrainingConfig(compile="yes")
    with pytest.raises(ValueError, match="log_every_steps must be a positive integer"):
        TrainingConfig(log_every_steps=0)


def test_pending_steps_write_one_record_per_step_only_when_flushed(tmp_path):
    """Two steps of 8 windows held, then flushed: both records appear at once, values in step order; plain
    numbers (TMT's step number) pass through; the rate is the group's, the same on both records."""
    records = RunRecords(tmp_path, True, None, tensorboard=False)
    pending = PendingSteps(records, windows_per_step=8)
    pending.add(0, 1, {"loss": torch.tensor(0.5), "centre_mpjpe": torch.tensor(0.25)}, 1e-3)
    pending.add(0, 2, {"loss": torch.tensor(0.75), "tmt_step": 2.0}, 1e-3)
    assert read_metrics(tmp_path) == []
    rows = pending.flush()
    assert [row["loss"] for row in rows] == [0.5, 0.75]
    assert rows[0]["centre_mpjpe"] == 0.25 and rows[1]["tmt_step"] == 2.0
    assert rows[0]["windows_per_s"] == rows[1]["windows_per_s"] > 0
    written = read_metrics(tmp_path)
    assert [(r["kind"], r["epoch"], r["step"], r["loss"], r["lr"]) for r in written] == [
        ("step", 0, 1, 0.5, 1e-3),
        ("step", 0, 2, 0.75, 1e-3),
    ]
    assert pending.flush() == [] and len(read_metrics(tmp_path)) == 2


class Scale(nn.Module):
    """Predicts ``weight * (1, 0, 0)`` at every joint: MPJPE to a zero target is ``|weight|``."""

    config = SimpleNamespace(forward_inputs=keypoint_inputs)  # forward_windows passes keypoints only

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(2.0))

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        sequence = torch.zeros(*keypoints.shape[:3], 3) + self.weight * torch.tensor([1.0, 0.0, 0.0])
        return LiftingOutput(sequence=sequence, centre=sequence[:, 0])


def test_train_step_returns_detached_tensors_without_reading_them():
    """MPJPE of 2 m; gradient norm |d|w||/dw| = 1. Both come back as detached 0-d tensors, not floats."""
    model = Scale()
    batch = {"keypoints": torch.zeros(2, 3, 17, 2), "joints_3d": torch.zeros(2, 3, 17, 3)}
    objective = LiftingObjective("mpjpe", LossConfig(kind="mpjpe"), "h36m17")
    metrics = train_step(model, batch, torch.optim.SGD(model.parameters(), lr=0.1), objective, grad_clip_norm=10.0)
    assert all(torch.is_tensor(value) and not value.requires_grad for value in metrics.values())
    assert (float(metrics["loss"]), float(metrics["grad_norm"])) == pytest.approx((2.0, 1.0))


def test_trainer_compiles_model_and_loss_with_the_chosen_modes(tmp_path, monkeypatch):
    """compile=True with mode "reduce-overhead": the network is compiled in that mode and the loss without one
    (CUDA-graph replays would overwrite the held loss parts); each step marks a new CUDA-graph iteration."""
    compiled, marks = [], []

    def fake_compile(function, **options):
        compiled.append((getattr(function, "__name__", type(function).__name__), options))
        return function

    monkeypatch.setattr(torch, "compile", fake_compile)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    directory = tmp_path / "store"
    write_store(directory, synthetic_views([40, 30], seed=3), "h36m17", get_skeleton("h36m17").joint_names)
    config = TrainingConfig(epochs=1, steps_per_epoch=3, batch_size=8, progress_bar=False, compile=True,
                            compile_mode="reduce-overhead", checkpoint_every_steps=None, log_every_steps=2)  # fmt: skip
    train("strided", "demo", PoseStore(directory), None, config, tmp_path / "run", device="cpu",
          model_overrides=TINY_STRIDED)  # fmt: skip
    assert compiled == [("StridedTransformer", {"mode": "reduce-overhead"}), ("__call__", {})]
    assert len(marks) == 3
    steps = [record["step"] for record in read_metrics(tmp_path / "run") if record["kind"] == "step"]
    assert steps == [1, 2, 3]  # written in two groups (after steps 2 and 3), one record per step
