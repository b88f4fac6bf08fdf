"""What model configs tell the trainer, the updates a batch gets, and how a run's state is seeded and built."""

from __future__ import annotations

import pytest
import torch

from lifting.models import TMTStep
from lifting.training import TrainingConfig, forward_windows, resolve_model_config
from lifting.training.checkpoint import TrainingProgress, make_checkpoint, save_checkpoint
from lifting.training.state import ModelSpec, initial_state, seeded_model
from lifting.training.step import Update, batch_updates

TINY_MIXSTE = {"max_frames": 9, "dim": 16, "depth": 1, "num_heads": 2}
"""MixSTE shrunk for a CPU test (TMT without a preset builds on these with 5 input channels)."""

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("model", "preset", "expected"),
    [
        # receptive_field 351, s_out 5, s_in {5, 10, 20}; scored on the strided stage's centre pose
        ("uplift-upsample", "h36m-351", (351, 5, (5, 10, 20), "centre", False)),
        ("mixste", "h36m-243", (243, 1, (), "seq2seq", False)),  # T = 243, every frame predicted
        ("strided", "h36m-351", (351, 1, (), "centre", False)),  # N = 351, full-to-single
        ("mixste-tmt", "h36m-243", (243, 1, (), "seq2seq", True)),  # the backbone's window, plus the velocity
        ("strided-tmt", "h36m-351", (351, 1, (), "centre", True)),
    ],
)
def test_model_configs_state_what_the_trainer_needs(model, preset, expected):
    """The values come from the preset files (and TMT's from its backbone's); ``needs_velocity_input`` is TMT's."""
    config = resolve_model_config(model, preset)
    stated = (config.window_frames, config.output_stride, config.input_strides, config.output_kind,
              config.needs_velocity_input)  # fmt: skip
    assert stated == expected


def test_tmt_step_2_gets_the_ground_truth_velocity_and_other_models_refuse_one():
    """joints_3d x-coordinates 0, 1, 3 m over three frames: velocity 0 (first frame), 1, 2 m per frame.

    ``forward_windows`` passes exactly that to the TMT model in step 2 and zeros (None) in step 1; a model
    without a velocity input refuses ``ground_truth_velocity`` instead of ignoring it.
    """
    config = resolve_model_config("mixste-tmt", None, TINY_MIXSTE)
    joints = torch.zeros(1, 3, 17, 3)
    joints[0, :, :, 0] = torch.tensor([0.0, 1.0, 3.0])[:, None]
    batch = {"keypoints": torch.rand(1, 3, 17, 2, generator=torch.Generator().manual_seed(0)), "joints_3d": joints}
    velocity = config.forward_inputs(batch, ground_truth_velocity=True)["velocity"]
    assert velocity[0, :, 0, 0].tolist() == [0.0, 1.0, 2.0] and not velocity[..., 1:].any()
    assert config.forward_inputs(batch)["velocity"] is None
    model = seeded_model(ModelSpec("mixste-tmt", None, {}, config), seed=0).eval()
    step_2 = forward_windows(model, batch, ground_truth_velocity=True)
    assert torch.equal(step_2.sequence, model(batch["keypoints"], velocity=velocity).sequence)
    assert torch.equal(forward_windows(model, batch).sequence, model(batch["keypoints"]).sequence)
    assert not torch.equal(step_2.sequence, model(batch["keypoints"]).sequence)
    mixste = resolve_model_config("mixste", None, TINY_MIXSTE)
    with pytest.raises(ValueError, match="ground_truth_velocity applies to TMT models only"):
        mixste.forward_inputs(batch, ground_truth_velocity=True)


def test_batch_updates_by_hand():
    """One plain update without a velocity input; TMT with 2 per batch: step 1 then step 2 (metrics suffixed
    ``_step2``); TMT with 1 per batch: steps 1, 2, 1 at global steps 0, 1, 2 (recorded as ``tmt_step``)."""
    assert batch_updates(False, 2, 7) == (Update(),)
    assert batch_updates(True, 2, 7) == (Update(False), Update(True, "_step2"))
    alternating = [batch_updates(True, 1, step) for step in range(3)]
    assert alternating == [
        (Update(False, tmt_step=1.0),),
        (Update(True, tmt_step=2.0),),
        (Update(False, tmt_step=1.0),),
    ]
    assert [update.tmt_step for (update,) in alternating] == [float(TMTStep.ZERO_VELOCITY), 2.0, 1.0]


def test_initial_weights_depend_on_the_seed_alone_and_leave_the_caller_generator_alone():
    """Two builds with seed 3, with unrelated draws from torch's generator between them, give equal weights; seed
    4 gives others; the caller's generator state is the same before and after a build."""
    spec = ModelSpec.resolve("mixste", None, TINY_MIXSTE)
    first = seeded_model(spec, 3).state_dict()
    torch.rand(100)
    state = torch.get_rng_state()
    second = seeded_model(spec, 3).state_dict()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(first[name], second[name]) for name in first)
    other = seeded_model(spec, 4).state_dict()
    assert not torch.equal(first["joint_embedding.weight"], other["joint_embedding.weight"])


def test_dropout_stream_does_not_depend_on_what_initialisation_drew():
    """MixSTE widths 16 and 32 draw different amounts of numbers at initialisation; with the same seed their runs
    still start dropout from the same generator state (a separate stream of the seed)."""
    config = TrainingConfig(seed=5)
    states = []
    for width in (16, 32):
        with torch.random.fork_rng(devices=[]):
            initial_state(ModelSpec.resolve("mixste", None, {**TINY_MIXSTE, "dim": width}), config, CPU)
            states.append(torch.get_rng_state())
    assert torch.equal(states[0], states[1])


def test_finetuning_state_starts_model_and_ema_from_the_checkpoint(tmp_path):
    """A seed-1 model saved as a checkpoint, then a seed-0 run initialised from it: the model and its EMA (no
    update yet) both hold the checkpoint's weights, not the seed-0 ones; the optimiser has no state yet."""
    spec = ModelSpec.resolve("mixste", None, TINY_MIXSTE)
    source = seeded_model(spec, 1)
    checkpoint = make_checkpoint(
        model_name="mixste", model_preset=None, model_overrides=TINY_MIXSTE, model_config_data={},
        training_data={}, skeleton="h36m17", joint_names=(), model=source, ema=None,
        optimizer=torch.optim.SGD(source.parameters(), lr=0.1), progress=TrainingProgress(),
    )  # fmt: skip
    save_checkpoint(tmp_path / "init.pt", checkpoint)
    with torch.random.fork_rng(devices=[]):
        state = initial_state(spec, TrainingConfig(seed=0, ema_decay=0.9), CPU, init_checkpoint=tmp_path / "init.pt")
    expected = source.state_dict()
    for weights in (state.model.state_dict(), state.ema.module.state_dict()):
        assert all(torch.equal(weights[name], expected[name]) for name in expected)
    assert int(state.ema.n_averaged) == 0 and not state.optimizer.state and not state.resumed


def test_weight_decay_reaches_the_matrices_and_never_the_biases_or_norm_scales():
    """Linear(3, 4) then LayerNorm(4): only the 4 x 3 matrix decays, by the torch value 1e-4 / 1e-3 = 0.1 (AdamW
    multiplies its weight_decay by the learning rate); the linear bias and the norm's scale and shift (1-D) get 0.
    """
    from lifting.training.state import make_optimizer

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    config = TrainingConfig(learning_rate=1e-3, weight_decay=1e-4)
    groups = make_optimizer(model, config, torch.device("cpu")).param_groups
    decayed = {id(p) for group in groups if group["weight_decay"] > 0 for p in group["params"]}
    assert [group["weight_decay"] for group in groups if group["weight_decay"] > 0] == [pytest.approx(0.1)]
    assert decayed == {id(model[0].weight)}
    undecayed = {id(p) for group in groups if group["weight_decay"] == 0 for p in group["params"]}
    assert undecayed == {id(model[0].bias), id(model[1].weight), id(model[1].bias)}
