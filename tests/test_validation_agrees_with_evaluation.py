"""Validation during training and ``evaluate`` give the same MPJPE for the same checkpoint and frames.

Both read windows through ``datasets.windows`` and run the model through
``lifting.training.validation.predict_windows``; these tests train a tiny model for one step (validating
every centre frame it may), evaluate its last checkpoint with the options validation uses (no flip test, the
training run's padding, 2D array and smallest input stride) and compare with the validation MPJPE the trainer
recorded in ``metrics.jsonl`` for that checkpoint.

The stores hold one action only, so Human3.6M's mean over actions is the mean over frames, and one frame is
marked invalid, which neither side may count.

Mutations that fail them (each checked by hand; measured values of the first test in brackets, evaluation vs
validation in mm): in ``lifting.evaluation.evaluate.inference_plan`` replace the padding resolved from the
training run by ``"zero"`` (the windows at the views' first and last frames then see zeros where validation's
saw edge-padded poses: 937.26 vs 938.17); evaluate with ``flip_test=True`` (665.16 vs 938.17); in
``validation_mpjpe`` count invalid frames (938.17 vs 937.51) or score without re-centring on the root
(938.17 vs 561.99).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import synthetic_views

from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from datasets.units import MILLIMETRES_PER_METRE
from lifting.evaluation import EvaluationConfig, evaluate
from lifting.training import TrainingConfig, train
from lifting.training.records import read_metrics

SKELETON = get_skeleton("h36m17")
TINY_STRIDED = {"frames": 9, "strides": [3, 3], "dim": 16, "ffn_dim": 32, "num_heads": 2, "vanilla_depth": 1}
"""A Strided Transformer (s_out 1) small enough for a CPU test."""

TINY_UPLIFT_UPSAMPLE = {
    "receptive_field": 21, "output_stride": 5, "input_strides": [5, 10], "joint_dim": 8, "joint_depth": 1,
    "joint_heads": 2, "temporal_dim": 16, "temporal_depth": 1, "temporal_heads": 2, "strides": [5],
    "paddings": [[0, 0]],
}  # fmt: skip
"""Uplift-and-Upsample with N = 21 (5 tokens, s_out 5), small enough for a CPU test."""

ONE_STEP = TrainingConfig(
    epochs=1, steps_per_epoch=1, batch_size=8, validation_centre_interval=1, progress_bar=False
)  # fmt: skip
"""One training step, then validation of every window centre (every frame; every ``s_out``-th with s_out > 1)."""

AS_VALIDATED = EvaluationConfig(split="test", protocol="h36m", flip_test=False, plots=False)
"""Evaluation with validation's options: no flip test; padding, 2D array and input stride as trained."""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Human3.6M-labelled views: two training (40, 36 frames), two test of one action (31 and 23 frames; frame 10
    of the first invalid)."""
    specs = [("S1", "train", 40), ("S5", "train", 36), ("S9", "test", 31), ("S11", "test", 23)]
    views = []
    for view, (subject, split, length) in zip(synthetic_views([spec[2] for spec in specs], seed=3), specs, strict=True):
        valid = np.ones(length, bool)
        if subject == "S9":
            valid[10] = False
        labels = {"dataset": "h36m", "subject": subject, "action": "Walking", "sequence": f"Walking {subject}"}
        views.append(dataclasses.replace(view, **labels, split=split, valid=valid))
    directory = tmp_path_factory.mktemp("agreement") / "store"
    write_store(directory, views, "h36m17", SKELETON.joint_names)
    return PoseStore(directory)


def _recorded_validation(run) -> float:
    """The validation MPJPE (metres) the trainer recorded after its last epoch."""
    [record] = [record for record in read_metrics(run.output_dir) if record["kind"] == "epoch"]
    return record["validation_mpjpe"]


def test_evaluate_equals_validation_on_every_frame(store, tmp_path):
    """Strided Transformer, s_out 1: validation's windows are centred on every frame of the test views, as the
    evaluation's; 53 valid frames on both sides, the same MPJPE."""
    run = train("strided", "demo", store, store, ONE_STEP, tmp_path / "run", device="cpu", model_overrides=TINY_STRIDED)
    result = evaluate(run.checkpoint_last, store, AS_VALIDATED, tmp_path / "eval", device="cpu")
    assert result.frames == 31 + 23 - 1
    validation = _recorded_validation(run)
    assert result.summary["mpjpe_mm"] == pytest.approx(validation * MILLIMETRES_PER_METRE, rel=1e-5)


def test_evaluate_key_frames_equal_validation_with_an_output_stride(store, tmp_path):
    """Uplift-and-Upsample, s_out 5, s_in 5 (the smallest trained): validation's centres are frames 0, 5, 10, ...
    inside each view (centre interval lcm(1, 5) = 5), where the evaluation's prediction is the model's centre pose
    uninterpolated; these are the evaluation's key-frames (t % 5 == 0), whose MPJPE row is the same number."""
    run = train(
        "uplift-upsample", None, store, store, ONE_STEP, tmp_path / "run", device="cpu",
        model_overrides=TINY_UPLIFT_UPSAMPLE,
    )  # fmt: skip
    result = evaluate(run.checkpoint_last, store, AS_VALIDATED, tmp_path / "eval", device="cpu")
    key_frames = result.tables["key_frames"]["key-frames"]["mpjpe_mm"]
    assert key_frames == pytest.approx(_recorded_validation(run) * MILLIMETRES_PER_METRE, rel=1e-5)
    assert result.summary["mpjpe_mm"] != pytest.approx(key_frames, rel=1e-5)  # all frames: interpolated ones too
