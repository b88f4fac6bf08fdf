"""Evaluation: oracle and known-offset predictions give hand-derived numbers; inference modes; end to end."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import synthetic_views
from torch import nn

from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from datasets.units import MILLIMETRES_PER_METRE
from datasets.windows import PoseWindows, WindowConfig, covering_centres, tile_centres
from lifting import metrics
from lifting.evaluation import (
    EvaluationConfig,
    InferencePlan,
    evaluate,
    evaluate_mean_pose,
    evaluate_predictions,
    mean_pose,
    pck_joints,
    predict_view,
)
from lifting.models import LiftingOutput, UpliftUpsample, UpliftUpsampleConfig
from lifting.models.common import keypoint_inputs
from lifting.training import TrainingConfig, train

SKELETON = get_skeleton("h36m17")
RIGHT_ANKLE = SKELETON.index("right_ankle")


def _store(directory, specs, seed=0):
    """Views relabelled per spec: (dataset, subject, action, split, length, valid or None, activity or None)."""
    views = synthetic_views([spec[4] for spec in specs], seed=seed)
    relabelled = []
    for view, (dataset, subject, action, split, _, valid, activity) in zip(views, specs, strict=True):
        per_frame = {} if activity is None else {"activity": np.asarray(activity, dtype=np.int16)}
        relabelled.append(
            dataclasses.replace(
                view,
                dataset=dataset,
                subject=subject,
                action=action,
                sequence=f"{action} {subject}",
                split=split,
                valid=valid,
                per_frame=per_frame,
            )  # fmt: skip
        )
    write_store(directory, relabelled, "h36m17", SKELETON.joint_names)
    return PoseStore(directory)


@pytest.fixture(scope="module")
def h36m_store(tmp_path_factory):
    """Test views: Walking 30 + 50 frames (S9, S11), Eating 20 frames (S9); one training view."""
    specs = [
        ("h36m", "S9", "Walking", "test", 30, None, None),
        ("h36m", "S11", "Walking", "test", 50, None, None),
        ("h36m", "S9", "Eating", "test", 20, None, None),
        ("h36m", "S1", "Eating", "train", 40, None, None),
    ]
    return _store(tmp_path_factory.mktemp("h36m") / "store", specs)


@pytest.fixture(scope="module")
def hp3d_store(tmp_path_factory):
    """One 3DHP test view of 12 frames: frames 0-5 activity 1, 6-11 activity 2; frames 4 and 10 invalid."""
    valid = np.ones(12, bool)
    valid[[4, 10]] = False
    specs = [("mpi_inf_3dhp", "TS1", "", "test", 12, valid, [1] * 6 + [2] * 6)]
    return _store(tmp_path_factory.mktemp("3dhp") / "store", specs)


def _ground_truth(store):
    return {view: store.read("joints_3d", view) for view in store.index["view_id"].to_pylist()}


def test_oracle_gives_zero_errors_on_human36m(h36m_store, tmp_path):
    """Predictions = ground truth: MPJPE, P-MPJPE, N-MPJPE, MPJVE are 0 for every action and on average."""
    result = evaluate_predictions(h36m_store, _ground_truth(h36m_store), EvaluationConfig(), tmp_path)
    assert result.protocol == "h36m" and result.views == 3 and result.frames == 100
    assert set(result.tables["groups"]) == {"Walking", "Eating", "average"}
    for row in result.tables["groups"].values():
        for value in row.values():
            assert value == pytest.approx(0.0, abs=1e-9)
    assert (tmp_path / "report.md").is_file() and json.loads((tmp_path / "metrics.json").read_text())[
        "protocol"
    ] == "h36m"
    assert {path.name for path in result.plots} == {"per_joint_error.png", "per_group_error.png", "skeletons.png"}


def test_known_offsets_give_known_numbers_per_action(h36m_store, tmp_path):
    """Right ankle off by 17 mm along x in Walking (80 frames) and 51 mm in Eating (20 frames), all else exact.

    MPJPE per frame = offset / 17 joints: Walking 1 mm, Eating 3 mm; the average over actions is 2 mm (a mean
    over all 100 frames would be 1.4 mm). Constant offsets move nothing between frames: MPJVE 0. The right
    ankle's own error is frame-weighted: (80 * 17 + 20 * 51) / 100 = 23.8 mm. HumanEva's grouping names rows by
    subject and action.
    """
    predictions = _ground_truth(h36m_store)
    for view, offset in ((0, 0.017), (1, 0.017), (2, 0.051)):
        predictions[view] = predictions[view].copy()
        predictions[view][:, RIGHT_ANKLE, 0] += offset
    result = evaluate_predictions(h36m_store, predictions, EvaluationConfig(plots=False), tmp_path)
    groups = result.tables["groups"]
    assert groups["Walking"]["mpjpe_mm"] == pytest.approx(1.0)
    assert groups["Eating"]["mpjpe_mm"] == pytest.approx(3.0)
    assert result.summary["mpjpe_mm"] == pytest.approx(2.0)
    assert result.summary["mpjve_mm"] == pytest.approx(0.0, abs=1e-4)  # float32 rounding of the offsets
    assert result.tables["per_joint"]["right_ankle"] == pytest.approx(23.8, rel=1e-6)
    assert result.tables["per_joint"]["left_ankle"] == pytest.approx(0.0, abs=1e-9)
    assert "| Walking | 1.00 |" in result.markdown_table
    humaneva = evaluate_predictions(
        h36m_store, predictions, EvaluationConfig(protocol="humaneva", plots=False), tmp_path / "he"
    )
    assert set(humaneva.tables["groups"]) == {"S9 Walking", "S11 Walking", "S9 Eating", "average"}
    assert humaneva.summary["mpjpe_mm"] == pytest.approx((1 + 1 + 3) / 3)


def test_mpi_inf_3dhp_pck_auc_on_valid_frames_per_activity(hp3d_store, tmp_path):
    """14 PCK joints (no pelvis, spine, head centre). Oracle: PCK 100 %, MPJPE 0, AUC 30/31 = 96.77 % (the 0 mm
    threshold counts nothing under the strict comparison). Right ankle 200 mm off during activity 1 (5 valid
    frames) and garbage on the invalid frames: activity 1 PCK 13/14, AUC 13 * 30 / (14 * 31), MPJPE 200 / 17 mm;
    activity 2 as the oracle; all frames (10 valid): PCK (5 * 13/14 + 5) / 10."""
    assert pck_joints(SKELETON) == [1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16]
    oracle = evaluate_predictions(hp3d_store, _ground_truth(hp3d_store), EvaluationConfig(plots=False), tmp_path / "o")
    assert oracle.protocol == "mpi_inf_3dhp" and oracle.frames == 10
    assert oracle.summary["pck_150mm_percent"] == pytest.approx(100.0)
    assert oracle.summary["auc_percent"] == pytest.approx(100 * 30 / 31)
    assert oracle.summary["mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)
    predictions = _ground_truth(hp3d_store)
    predictions[0] = predictions[0].copy()
    predictions[0][:6, RIGHT_ANKLE, 0] += 0.2
    predictions[0][[4, 10]] += 5.0  # invalid frames: must not count
    result = evaluate_predictions(hp3d_store, predictions, EvaluationConfig(plots=False), tmp_path / "offset")
    walking = result.tables["groups"]["Standing/Walking"]
    assert walking["pck_150mm_percent"] == pytest.approx(100 * 13 / 14)
    assert walking["auc_percent"] == pytest.approx(100 * 13 * 30 / (14 * 31))
    assert walking["mpjpe_mm"] == pytest.approx(200 / 17, rel=1e-5)
    assert result.tables["groups"]["Exercising"]["pck_150mm_percent"] == pytest.approx(100.0)
    assert result.summary["pck_150mm_percent"] == pytest.approx(100 * (5 * 13 / 14 + 5) / 10)


class CopyModel(nn.Module):
    """Lifts (x, y) to (x, y, 0): exact, flip-equivariant, time-local; centre = middle pose."""

    config = SimpleNamespace(forward_inputs=keypoint_inputs)  # forward_windows passes keypoints only

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        sequence = torch.cat([keypoints, torch.zeros_like(keypoints[..., :1])], dim=-1)
        return LiftingOutput(sequence=sequence, centre=sequence[:, sequence.shape[1] // 2])


class ConstantModel(nn.Module):
    """Predicts (1, 2, 3) m at every joint whatever the input."""

    config = SimpleNamespace(forward_inputs=keypoint_inputs)  # forward_windows passes keypoints only

    def forward(self, keypoints: torch.Tensor) -> LiftingOutput:
        sequence = torch.tensor([1.0, 2.0, 3.0]).expand(*keypoints.shape[:-1], 3)
        return LiftingOutput(sequence=sequence, centre=sequence[:, sequence.shape[1] // 2])


class KeyFrameProbe(UpliftUpsample):
    """Records the key-frame masks and inputs inference hands an Uplift-and-Upsample model."""

    config = UpliftUpsampleConfig()  # its forward_inputs: keypoints and the key-frame mask

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, keypoints: torch.Tensor, key_frame_mask: torch.Tensor) -> LiftingOutput:
        self.seen.append((keypoints.clone(), key_frame_mask.clone()))
        zeros = torch.zeros(*keypoints.shape[:-1], 3)
        return LiftingOutput(sequence=zeros, centre=zeros[:, 0])


def _view_windows(directory, keypoints: np.ndarray, window: WindowConfig) -> PoseWindows:
    """Windows over a one-view store whose 2D input, screen-normalised, is ``keypoints`` (T, 17, 2).

    The synthetic camera's image is 1000 x 1000 pixels: screen coordinates are ``pixels / 500 - 1``, so the
    stored pixels are ``(keypoints + 1) * 500``.
    """
    view = synthetic_views([len(keypoints)])[0]
    pixels = ((np.asarray(keypoints, np.float64) + 1.0) * 500.0).astype(np.float32)
    write_store(directory, [dataclasses.replace(view, keypoints_2d=pixels)], "h36m17", SKELETON.joint_names)
    return PoseWindows(PoseStore(directory), window, splits=(view.split,))


def _row(windows: PoseWindows) -> int:
    [row] = windows.rows
    return int(row)


def test_evaluation_layouts():
    """Centre mode, s_out 2, 10 frames: centres 0, 2, ..., 10 (the first multiple of 2 at or past frame 9).
    Seq2seq, N = 9 over 23 frames: starts 0, 9 and 14 (the last aligned to frame 22), centres start + 4; hop 4:
    starts 0, 4, 8, 12, then 14; a 5-frame view: one window from frame 0, centre 4."""
    assert covering_centres(10, 2).tolist() == [0, 2, 4, 6, 8, 10]
    assert covering_centres(9, 2).tolist() == [0, 2, 4, 6, 8]
    assert tile_centres(23, 9, 9).tolist() == [4, 13, 18]
    assert tile_centres(23, 9, 4).tolist() == [4, 8, 12, 16, 18]
    assert tile_centres(5, 9, 9).tolist() == [4]


def test_centre_and_seq2seq_inference_reproduce_an_exact_model(tmp_path):
    """The copy model returns the input at every frame in centre mode (s_out 1) and in seq2seq mode with tiles
    (23 frames, N = 9: starts 0, 9, 14) or overlapping windows (hop 4), with and without flip TTA."""
    keypoints = np.random.default_rng(0).normal(scale=0.3, size=(23, 17, 2)).astype(np.float32)
    expected = np.concatenate([keypoints, np.zeros((23, 17, 1), np.float32)], axis=-1)
    for number, (frames, plan) in enumerate(
        (
            (9, dict(mode="centre", flip_test=False)),
            (9, dict(mode="centre", flip_test=True)),
            (9, dict(mode="seq2seq", hop=9)),
            (9, dict(mode="seq2seq", hop=4, flip_test=True)),
            (31, dict(mode="seq2seq", hop=31)),
        )
    ):
        windows = _view_windows(tmp_path / str(number), keypoints, WindowConfig(frames=frames))
        prediction = predict_view(CopyModel(), windows, _row(windows), InferencePlan(window=windows.config, **plan))
        np.testing.assert_allclose(prediction, expected, atol=1e-5)


def test_flip_tta_averages_with_the_unflipped_flipped_prediction(tmp_path):
    """(1, 2, 3) flipped is (-1, 2, 3) on the mirrored joint; unflipped and averaged with (1, 2, 3): (0, 2, 3)."""
    windows = _view_windows(tmp_path, np.zeros((5, 17, 2), np.float32), WindowConfig(frames=3))
    prediction = predict_view(ConstantModel(), windows, _row(windows), InferencePlan("centre", windows.config))
    np.testing.assert_allclose(prediction, np.broadcast_to([0.0, 2.0, 3.0], (5, 17, 3)))


def test_output_stride_interpolates_linearly_between_centres(tmp_path):
    """s_out 2 on 10 frames: centres 0, 2, ..., 10 (10 past the end, its input edge-padded from frame 9). With
    2D linear in time, kp(t) = t * b, interior frames are exact; frame 9 lies halfway between centre 8 (8 b)
    and centre 10 (9 b, padded): 8.5 b."""
    slope = np.random.default_rng(1).normal(scale=0.05, size=(17, 2)).astype(np.float32)
    keypoints = np.arange(10, dtype=np.float32)[:, None, None] * slope
    window = WindowConfig(frames=5, output_stride=2, input_strides=(2,), key_frame_alignment="global")
    windows = _view_windows(tmp_path, keypoints, window)
    prediction = predict_view(CopyModel(), windows, _row(windows), InferencePlan("centre", window, flip_test=False))
    np.testing.assert_allclose(prediction[:9, :, :2], keypoints[:9], atol=1e-5)
    np.testing.assert_allclose(prediction[9, :, :2], 8.5 * slope, atol=1e-5)


def test_key_frames_start_at_frame_zero(tmp_path):
    """N = 21, s_out 5, s_in 10: the window centred on frame 5 shows frames -5, 0, 5, 10, 15, of which 0 and 10
    are key-frames (index % 10 == 0); the others' inputs are zero."""
    probe = KeyFrameProbe()
    window = WindowConfig(frames=21, output_stride=5, input_strides=(10,), key_frame_alignment="global")
    windows = _view_windows(tmp_path, np.full((23, 17, 2), 0.5, np.float32), window)
    predict_view(probe, windows, _row(windows), InferencePlan("centre", window, flip_test=False))
    inputs, masks = probe.seen[0]
    assert masks[1].tolist() == [False, True, False, True, False]
    assert torch.all(inputs[1, ~masks[1]] == 0) and torch.allclose(inputs[1, masks[1]], torch.tensor(0.5))


def test_inference_refuses_a_training_window():
    """Several input strides, or key-frames centred on the window (training), are not an evaluation window."""
    with pytest.raises(ValueError, match="one input stride with key-frames counted from frame 0"):
        InferencePlan("centre", WindowConfig(frames=21, output_stride=5, input_strides=(5, 10)))
    with pytest.raises(ValueError, match="key_frame_alignment='centre'"):
        InferencePlan("centre", WindowConfig(frames=21, output_stride=5, input_strides=(10,)))


def test_evaluate_a_trained_checkpoint_end_to_end(h36m_store, tmp_path):
    """A one-step Uplift-and-Upsample checkpoint: the report names the inference, key-frames (s_in 10) are compared
    with all frames, and scoring its predictions directly gives the same numbers."""
    overrides = {
        "receptive_field": 21, "output_stride": 5, "input_strides": [5, 10], "joint_dim": 8, "joint_depth": 1,
        "joint_heads": 2, "temporal_dim": 16, "temporal_depth": 1, "temporal_heads": 2, "strides": [3],
        "paddings": [[0, 0]],
    }  # fmt: skip
    config = TrainingConfig(epochs=1, steps_per_epoch=1, batch_size=8, progress_bar=False)
    run = train(
        "uplift-upsample", None, h36m_store, None, config, tmp_path / "run", device="cpu", model_overrides=overrides
    )
    result = evaluate(
        run.checkpoint_last, h36m_store, EvaluationConfig(input_stride=10), tmp_path / "eval", device="cpu"
    )
    report = result.report_path.read_text()
    assert "centre, N=21, s\\_out=5, s\\_in=10" in report  # setup values are escaped for Markdown
    assert "Key-frames vs all frames" in report
    assert set(result.tables["key_frames"]) == {"all frames", "key-frames"}
    assert "training_curves.png" in {path.name for path in result.plots}
    assert np.isfinite(list(result.summary.values())).all()
    mixste = train("mixste", "demo", h36m_store, None, config, tmp_path / "mixste", device="cpu")
    with pytest.raises(ValueError, match="input_stride=5 applies to uplift-upsample models, not mixste"):
        evaluate(mixste.checkpoint_last, h36m_store, EvaluationConfig(input_stride=5), tmp_path / "bad", device="cpu")


def test_mean_pose_baseline_scores_the_training_mean_on_the_test_frames(tmp_path):
    """Two training views hold a pose with the right ankle at +x and at -x of the same place, 30 and 10 frames
    (root at different places: root-relative poses are averaged); every frame counts, so the mean puts the ankle
    at +0.5 of the offset: (30 * 1 - 10 * 1) / 40 = 0.5 (offset 68 mm: +34 mm). The test view is the pose
    with the ankle at +68 mm: its only error is the ankle's 68 - 34 = 34 mm, MPJPE 34 / 17 = 2 mm per frame.
    """
    pose = synthetic_views([1])[0].joints_3d[0].astype(np.float64)  # (17, 3) metres, camera frame
    offset = np.zeros_like(pose)
    offset[RIGHT_ANKLE, 0] = 0.068
    specs = [("h36m", "S1", "Walking", "train", 30), ("h36m", "S5", "Walking", "train", 10),
             ("h36m", "S9", "Walking", "test", 20)]  # fmt: skip
    poses = [pose + offset + [0.3, 0.0, 0.0], pose - offset, pose + offset]
    views = []
    for view, held, spec in zip(synthetic_views([1, 1, 1]), poses, specs, strict=True):
        dataset, subject, action, split, length = spec
        joints = np.repeat(held[None], length, axis=0).astype(np.float32)
        keypoints = view.keypoints_2d[:1].repeat(length, axis=0)
        labels = {"dataset": dataset, "subject": subject, "action": action, "sequence": f"{action} {subject}"}
        views.append(dataclasses.replace(view, **labels, split=split, joints_3d=joints, keypoints_2d=keypoints))
    write_store(tmp_path / "store", views, "h36m17", SKELETON.joint_names)
    store = PoseStore(tmp_path / "store")
    expected = pose - pose[SKELETON.root] + 0.5 * offset
    assert mean_pose(store) == pytest.approx(expected, abs=1e-6)
    result = evaluate_mean_pose(store, EvaluationConfig(plots=False), tmp_path / "baseline")
    assert result.frames == 20
    assert result.summary["mpjpe_mm"] == pytest.approx(2.0, abs=1e-3)
    assert result.summary["mpjve_mm"] == pytest.approx(0.0, abs=1e-9)  # a constant prediction of a still pose
    assert result.tables["per_joint"]["right_ankle"] == pytest.approx(34.0, abs=1e-3)


def test_reported_mpjve_is_metrics_mpjve(tmp_path):
    """One test view of 25 frames, one action, every frame valid: the action's mean of per-frame velocity
    errors is the mean over the 24 steps, so the reported MPJVE is ``metrics.mpjve`` of the same arrays."""
    store = _store(tmp_path / "store", [("h36m", "S9", "Walking", "test", 25, None, None)], seed=3)
    target = store.read("joints_3d", 0)
    noise = np.random.default_rng(7).normal(scale=0.02, size=target.shape)
    predicted = (target + noise).astype(np.float32)
    result = evaluate_predictions(store, {0: predicted}, EvaluationConfig(plots=False), tmp_path / "eval")
    expected_mm = float(metrics.mpjve(predicted, target, root=SKELETON.root)) * MILLIMETRES_PER_METRE
    assert expected_mm > 1.0  # noise of 2 cm per coordinate moves the joints between frames
    assert result.summary["mpjve_mm"] == pytest.approx(expected_mm, rel=1e-6)
