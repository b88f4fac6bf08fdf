"""The trainer: one step by hand, each model's loss, schedules, checkpoints, exact resume, signals, presets."""

from __future__ import annotations

import dataclasses
import signal
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import synthetic_views
from torch import nn

from datasets.config import available_presets, load_config
from datasets.skeletons import MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS, get_skeleton
from datasets.store import PoseStore, write_store
from datasets.windows import PoseWindows
from lifting.models import LiftingOutput
from lifting.models.common import keypoint_inputs
from lifting.training import (
    LiftingObjective,
    LossConfig,
    TrainingConfig,
    WindowSettings,
    load_checkpoint,
    load_model,
    read_metrics,
    resolve_model_config,
    setup_distributed,
    train,
    train_step,
    window_config_for,
)
from lifting.training import loop as training_loop
from lifting.training import objectives as training_objectives
from lifting.training.config import LossKind

TINY_STRIDED = {"frames": 9, "strides": [3, 3], "dim": 16, "ffn_dim": 32, "num_heads": 2, "vanilla_depth": 1}
"""A Strided Transformer small enough for a CPU test; its dropouts make exact resume depend on the RNG state."""

TINY_MIXSTE = {"max_frames": 9, "dim": 16, "depth": 1, "num_heads": 2}
"""MixSTE's defaults shrunk for a CPU test (TMT without a preset builds on these with 5 input channels)."""

RESUME_CONFIG = TrainingConfig(
    epochs=2, steps_per_epoch=3, batch_size=16, learning_rate=1e-3, ema_decay=0.9, checkpoint_every_steps=None,
    progress_bar=False, validation_centre_interval=4,
)  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Four short synthetic views (two train, two test) in a store."""
    directory = tmp_path_factory.mktemp("training") / "store"
    write_store(directory, synthetic_views([60, 50, 40, 30], seed=5), "h36m17", get_skeleton("h36m17").joint_names)
    return PoseStore(directory)


@pytest.fixture(scope="module")
def uninterrupted(store, tmp_path_factory):
    """The reference run: 2 epochs of 3 steps, never stopped."""
    output = tmp_path_factory.mktemp("uninterrupted")
    result = train("strided", "demo", store, store, RESUME_CONFIG, output, device="cpu", model_overrides=TINY_STRIDED)
    return result, read_metrics(output)


class ConstantPose(nn.Module):
    """Predicts the same 3-vector for every joint of every pose: ``sequence`` and ``centre`` from one parameter."""

    config = SimpleNamespace(forward_inputs=keypoint_inputs)  # forward_windows passes keypoints only

    def __init__(self, value: tuple[float, float, float]) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        batch, poses, joints, _ = keypoints.shape
        sequence = self.value.expand(batch, poses, joints, 3)
        return LiftingOutput(sequence=sequence, centre=sequence[:, poses // 2])


def _batch(poses: int = 3) -> dict[str, torch.Tensor]:
    return {"keypoints": torch.zeros(2, poses, 17, 2), "joints_3d": torch.zeros(2, poses, 17, 3)}


def test_train_step_updates_clips_and_averages_by_hand():
    """Prediction (3, 4, 0) m for every joint, target 0: MPJPE = 5, gradient = (0.6, 0.8, 0) (the unit vector).

    SGD with lr 0.5 moves the parameter to (2.7, 3.6, 0). Clipping the gradient norm (1) to 0.1 scales it by 0.1,
    giving (2.97, 3.96, 0). EMA with decay 0.5: the first update copies, the second averages, so after two
    clipped steps from (3, 4, 0): EMA = 0.5 * (2.97, 3.96, 0) + 0.5 * (2.94, 3.92, 0) = (2.955, 3.94, 0).
    """
    objective = LiftingObjective("mpjpe", LossConfig(kind="mpjpe"), "h36m17")
    model = ConstantPose((3.0, 4.0, 0.0))
    metrics = train_step(model, _batch(), torch.optim.SGD(model.parameters(), lr=0.5), objective)
    assert metrics["loss"] == pytest.approx(5.0)
    assert model.value.detach().tolist() == pytest.approx([2.7, 3.6, 0.0])

    model = ConstantPose((3.0, 4.0, 0.0))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    ema = torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.5))
    first = train_step(model, _batch(), optimizer, objective, grad_clip_norm=0.1, ema=ema)
    assert first["grad_norm"] == pytest.approx(1.0)
    assert model.value.detach().tolist() == pytest.approx([2.97, 3.96, 0.0])
    train_step(model, _batch(), optimizer, objective, grad_clip_norm=0.1, ema=ema)
    assert model.value.detach().tolist() == pytest.approx([2.94, 3.92, 0.0])
    assert ema.module.value.detach().tolist() == pytest.approx([2.955, 3.94, 0.0])


def test_each_models_loss_by_hand():
    """Targets 0; predicted sequence 0.1 m off along x at every joint, centre 0.3 m off.

    Uplift-and-Upsample: 0.5 * 0.1 + 0.5 * 0.3 = 0.2. Strided: 1 * 0.1 + 1 * 0.3 = 0.4. MixSTE (constant in
    time, so TCLoss = MPJVE = 0): WMPJPE = mean of the released joint weights * 0.1 = 36.5 / 17 * 0.1.
    """
    batch = _batch(poses=5)
    sequence = torch.zeros(2, 5, 17, 3)
    sequence[..., 0] = 0.1
    centre = torch.zeros(2, 17, 3)
    centre[..., 0] = 0.3
    output = LiftingOutput(sequence=sequence, centre=centre)
    uplift = LiftingObjective("uplift-upsample", LossConfig(), "h36m17")(output, batch)
    strided = LiftingObjective("strided", LossConfig(), "h36m17")(output, batch)
    mixste = LiftingObjective("mixste", LossConfig(), "h36m17")(output, batch)
    assert float(uplift["loss"]) == pytest.approx(0.2)
    assert float(uplift["centre_mpjpe"]) == pytest.approx(0.3)
    assert float(strided["loss"]) == pytest.approx(0.4)
    assert sum(MIXSTE_RELEASED_H36M17_JOINT_WEIGHTS) == pytest.approx(36.5)
    assert float(mixste["loss"]) == pytest.approx(36.5 / 17 * 0.1)
    assert float(mixste["temporal_consistency"]) == 0.0 and float(mixste["mpjve"]) == 0.0
    with pytest.raises(ValueError, match="joint_weights='released' exists for h36m17 only"):
        LiftingObjective("mixste", LossConfig(), "humaneva15")


def test_mixste_loss_is_its_logged_terms_weighed_and_every_loss_kind_has_a_class():
    """Uniform joint weights, B = 1, T = 3, every joint at x = 0, 0.1, 0.3 m against target 0.

    WMPJPE = (0 + 0.1 + 0.3) / 3 = 0.4 / 3; TCLoss = mean over steps and coordinates of the squared step =
    (0.1^2 + 0.2^2) / (2 * 3) = 0.05 / 6; MPJVE = mean step error = (0.1 + 0.2) / 2 = 0.15. Loss =
    0.4 / 3 + 0.5 * 0.05 / 6 + 2 * 0.15 (lambda_t 0.5, lambda_m 2).
    """
    sequence = torch.zeros(1, 3, 17, 3)
    sequence[0, :, :, 0] = torch.tensor([0.0, 0.1, 0.3])[:, None]
    output = LiftingOutput(sequence=sequence, centre=sequence[:, 1])
    batch = {"joints_3d": torch.zeros(1, 3, 17, 3)}
    result = LiftingObjective("mixste", LossConfig(joint_weights="uniform"), "h36m17")(output, batch)
    assert float(result["weighted_mpjpe"]) == pytest.approx(0.4 / 3)
    assert float(result["temporal_consistency"]) == pytest.approx(0.05 / 6)
    assert float(result["mpjve"]) == pytest.approx(0.15)
    assert float(result["loss"]) == pytest.approx(0.4 / 3 + 0.5 * 0.05 / 6 + 2 * 0.15)
    assert set(training_objectives.LOSSES) == set(LossKind.__args__) - {"auto"}
    with pytest.raises(ValueError, match="unknown loss kind 'l2'"):
        LiftingObjective("l2", LossConfig(), "h36m17")


def test_schedules_by_hand():
    """lr 4e-5 * 0.99^e; torch's weight decay 4e-6 / 4e-5 = 0.1 (MixSTE's released AdamW value); the Strided
    schedule multiplies by 0.95 after epochs 1-4, by 0.5 after epoch 5: epoch 5 runs at 0.95^4 * 0.5 * 1e-3."""
    config = TrainingConfig()
    assert config.learning_rate_at(2) == pytest.approx(4e-5 * 0.99**2)
    assert config.torch_weight_decay == pytest.approx(0.1)
    strided = load_config(TrainingConfig, "training", "strided-h36m-351")
    assert strided.learning_rate_at(5) == pytest.approx(1e-3 * 0.95**4 * 0.5)
    assert strided.learning_rate_at(4) == pytest.approx(1e-3 * 0.95**4)


def test_resume_after_stop_equals_uninterrupted(store, uninterrupted, tmp_path):
    """Stop after 4 of 6 steps (mid-epoch 2), resume: every step loss, epoch record and final weight is equal."""
    reference, reference_records = uninterrupted
    stopped = train(
        "strided", "demo", store, store, dataclasses.replace(RESUME_CONFIG, max_steps=4), tmp_path,
        device="cpu", model_overrides=TINY_STRIDED,
    )  # fmt: skip
    assert (stopped.status, stopped.global_step, stopped.epochs_completed) == ("stopped", 4, 1)
    resumed = train("strided", "demo", store, store, RESUME_CONFIG, tmp_path, resume=True, device="cpu",
                    model_overrides=TINY_STRIDED)  # fmt: skip
    assert (resumed.status, resumed.global_step, resumed.epochs_completed) == ("completed", 6, 2)
    records = read_metrics(tmp_path)
    losses = [(record["step"], record["loss"]) for record in records if record["kind"] == "step"]
    assert losses == [(record["step"], record["loss"]) for record in reference_records if record["kind"] == "step"]
    epochs = [(r["train_loss"], r["validation_mpjpe"]) for r in records if r["kind"] == "epoch"]
    assert epochs == [(r["train_loss"], r["validation_mpjpe"]) for r in reference_records if r["kind"] == "epoch"]
    final, expected = load_checkpoint(resumed.checkpoint_last), load_checkpoint(reference.checkpoint_last)
    for part in ("model", "ema"):
        for key, value in expected["state"][part].items():
            assert torch.equal(final["state"][part][key], value), (part, key)
    assert resumed.best_validation_mpjpe == reference.best_validation_mpjpe


def test_sigterm_writes_a_checkpoint_and_resumes_exactly(store, uninterrupted, tmp_path, monkeypatch):
    """A SIGTERM during step 3 finishes that step, writes checkpoint_last.pt at step 3 and returns; the resumed
    run's losses equal the uninterrupted run's."""
    calls = []

    def signalling_step(*arguments, **options):
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGTERM)
        return train_step(*arguments, **options)

    monkeypatch.setattr(training_loop, "train_step", signalling_step)
    handler_before = signal.getsignal(signal.SIGTERM)
    result = train("strided", "demo", store, store, RESUME_CONFIG, tmp_path, device="cpu", model_overrides=TINY_STRIDED)
    assert (result.status, result.global_step) == ("interrupted", 3)
    assert load_checkpoint(result.checkpoint_last)["progress"]["global_step"] == 3
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the run's handler is removed again
    monkeypatch.undo()
    train(
        "strided",
        "demo",
        store,
        store,
        RESUME_CONFIG,
        tmp_path,
        resume=True,
        device="cpu",
        model_overrides=TINY_STRIDED,
    )
    losses = [record["loss"] for record in read_metrics(tmp_path) if record["kind"] == "step"]
    assert losses == [record["loss"] for record in uninterrupted[1] if record["kind"] == "step"]


def test_checkpoint_rebuilds_the_model_and_refuses_changed_resumes(store, uninterrupted, tmp_path):
    """load_model rebuilds the architecture from the checkpoint alone and loads the EMA weights, which give the
    validation MPJPE recorded for the last epoch; resuming with another learning rate is refused by name."""
    result, records = uninterrupted
    model, info = load_model(result.checkpoint_last)
    assert (info.model_name, info.weights, info.progress.global_step) == ("strided", "ema", 6)
    assert info.model_config == resolve_model_config("strided", "demo", TINY_STRIDED)
    assert info.training_config == RESUME_CONFIG
    from lifting.training.validation import validation_mpjpe, validation_windows

    config = window_config_for(info.model_config, WindowSettings(), "validation", centre_interval=4)
    value = validation_mpjpe(model, validation_windows(store, config, ("test",)), torch.device("cpu"))
    assert value == pytest.approx([r for r in records if r["kind"] == "epoch"][-1]["validation_mpjpe"], rel=1e-6)
    changed = dataclasses.replace(RESUME_CONFIG, learning_rate=2e-3)
    with pytest.raises(ValueError, match="learning_rate differ"):
        train("strided", "demo", store, store, changed, result.output_dir, resume=True, device="cpu",
              model_overrides=TINY_STRIDED)  # fmt: skip


def test_finetuning_starts_from_the_checkpoint_weights(store, uninterrupted, tmp_path, monkeypatch):
    """With init_checkpoint the first step sees the checkpoint's EMA weights; another model name is refused."""
    seen = []

    def recording_step(model, *arguments, **options):
        if not seen:
            seen.append({key: value.detach().clone() for key, value in model.state_dict().items()})
        return train_step(model, *arguments, **options)

    monkeypatch.setattr(training_loop, "train_step", recording_step)
    config = dataclasses.replace(RESUME_CONFIG, epochs=1, steps_per_epoch=1)
    source = uninterrupted[0].checkpoint_last
    train("strided", "demo", store, None, config, tmp_path, init_checkpoint=source, device="cpu",
          model_overrides=TINY_STRIDED)  # fmt: skip
    expected, _ = load_model(source)
    for key, value in expected.state_dict().items():
        assert torch.equal(seen[0][key], value), key
    with pytest.raises(ValueError, match="holds a 'strided' model, not 'mixste'"):
        train("mixste", "demo", store, None, config, tmp_path / "other", init_checkpoint=source, device="cpu")


def test_tmt_runs_both_steps_per_batch_or_alternates(store, tmp_path):
    """Two steps per batch log step 1's and step 2's losses; one step per batch alternates 1, 2, 1, ..."""
    both = dataclasses.replace(RESUME_CONFIG, epochs=1, steps_per_epoch=2, ema_decay=None)
    train("mixste-tmt", None, store, None, both, tmp_path / "both", device="cpu", model_overrides=TINY_MIXSTE)
    records = [record for record in read_metrics(tmp_path / "both") if record["kind"] == "step"]
    assert all("loss" in record and "loss_step2" in record for record in records)
    alternate = dataclasses.replace(both, steps_per_epoch=3, tmt_steps_per_batch=1)
    train("mixste-tmt", None, store, None, alternate, tmp_path / "alternate", device="cpu", model_overrides=TINY_MIXSTE)
    steps = [record["tmt_step"] for record in read_metrics(tmp_path / "alternate") if record["kind"] == "step"]
    assert steps == [1.0, 2.0, 1.0]


def test_records_hold_the_schedule_and_the_caller_rng_is_untouched(store, uninterrupted):
    """Steps of epoch e log lr 1e-3 * 0.99^e; training restores the caller's torch generator state."""
    records = [record for record in uninterrupted[1] if record["kind"] == "step"]
    assert [record["epoch"] for record in records] == [0, 0, 0, 1, 1, 1]
    assert [record["lr"] for record in records] == pytest.approx([1e-3 * 0.99 ** record["epoch"] for record in records])
    state = torch.get_rng_state()
    train("strided", "demo", store, None, dataclasses.replace(RESUME_CONFIG, epochs=1, steps_per_epoch=1),
          uninterrupted[0].output_dir.parent / "rng", device="cpu", model_overrides=TINY_STRIDED)  # fmt: skip
    assert torch.equal(torch.get_rng_state(), state)


def test_window_config_follows_the_model_presets():
    """N = 351 with s_out 5 gives 71 poses and s_in {5, 10, 20}; evaluation keeps one stride, aligns key-frames
    to frame 0 and puts centres on the s_out grid (interval 3 -> lcm(3, 5) = 15); MixSTE trains on clips."""
    uplift = resolve_model_config("uplift-upsample", "h36m-351")
    training = window_config_for(uplift, WindowSettings(), "training")
    assert (training.frames, training.tokens, training.input_strides) == (351, 71, (5, 10, 20))
    assert training.random_key_frame_shift and training.key_frame_alignment == "centre"
    evaluation = window_config_for(uplift, WindowSettings(), "evaluation", input_stride=20, centre_interval=3)
    assert (evaluation.input_strides, evaluation.key_frame_alignment, evaluation.centre_interval) == (
        (20,),
        "global",
        15,
    )
    mixste = window_config_for(resolve_model_config("mixste", "h36m-243"), WindowSettings(), "training")
    assert (mixste.frames, mixste.sampling) == (243, "clips")


@pytest.mark.parametrize(("interval", "expected"), [(3, 15), (10, 10), (5, 5), (4, 20)])
def test_evaluation_centres_sit_on_the_output_grid_so_every_window_sees_key_frames(store, interval, expected):
    """With key-frames aligned to frame 0 (frames t with t mod s_in = 0), a window centred on frame c has poses at
    c + 5k (s_out = 5). For c = 3 and s_in = 20 those are 3, 8, 13, 18, 23, ...: never a multiple of 20, so the
    window has no key-frame and the model cannot lift it. Centres are therefore put every lcm(interval, s_out)
    frames, the smallest spacing that is both a multiple of the requested one and on the grid: 3 -> 15, 10 -> 10,
    5 -> 5, 4 -> 20. Every centre is then a multiple of 5 and every window of the demo model (27 poses, 130
    frames wide) covers a multiple of 20."""
    uplift = resolve_model_config("uplift-upsample", "demo")
    config = window_config_for(uplift, WindowSettings(), "evaluation", input_stride=20, centre_interval=interval)
    assert config.centre_interval == expected
    windows = PoseWindows(store, config, splits=("test",))
    batch = windows.gather(np.arange(len(windows)))
    assert len(windows) > 2 and np.all(batch["centre_frame"] % 5 == 0)
    assert np.unique(np.diff(batch["centre_frame"][batch["view_id"] == batch["view_id"][0]])).tolist() == [expected]
    assert batch["key_frame_mask"].any(axis=1).all()


def test_training_presets_load_with_their_paper_values():
    """Every training preset loads with the values below (citations: tests/test_preset_citations.py)."""
    assert set(available_presets("training")) >= {
        "demo", "mixste-h36m-243", "mixste-tmt-h36m-243", "strided-h36m-351", "uplift-upsample-h36m-351",
        "uplift-upsample-h36m-81",
    }  # fmt: skip
    configs = {name: load_config(TrainingConfig, "training", name) for name in available_presets("training")}
    uplift = configs["uplift-upsample-h36m-351"]
    assert (uplift.epochs, uplift.batch_size, uplift.steps_per_epoch, uplift.ema_decay) == (120, 512, 6000, None)
    assert configs["uplift-upsample-h36m-81"].ema_decay == 0.999
    assert (
        configs["mixste-h36m-243"].window.sampling == "clips"
        and configs["mixste-tmt-h36m-243"].tmt_steps_per_batch == 2
    )
    assert np.isclose(configs["mixste-h36m-243"].torch_weight_decay, 0.1)


def test_distributed_falls_back_to_one_process(monkeypatch):
    """Without torchrun's WORLD_SIZE (or with 1) nothing distributed starts; the device resolves to the CPU."""
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    context = setup_distributed("cpu")
    assert (context.rank, context.world_size, context.is_main, context.device.type) == (0, 1, True, "cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert setup_distributed("auto").world_size == 1
