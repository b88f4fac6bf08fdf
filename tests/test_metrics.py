"""Values of the evaluation metrics in ``lifting.metrics``, derived by hand in each docstring."""

import doctest

import numpy as np
import pytest
import roma
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

import lifting.metrics
from lifting.metrics import (
    AUC_THRESHOLDS_METRES,
    AVERAGE_KEY,
    PCK_THRESHOLD_METRES,
    aggregate_by_group,
    auc,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
    per_joint_position_error,
    per_joint_table,
    procrustes_align,
)

JOINT_COUNT = 17
OFFSET_10_MM = np.array([0.006, 0.0, 0.008])  # a 6-8-10 triangle: |offset| = 0.010 m


def random_poses(seed: int, leading: tuple[int, ...] = (), joint_count: int = JOINT_COUNT) -> np.ndarray:
    """Generic (non-planar, non-symmetric) poses: (*leading, J, 3) metres, spread about 0.25 m."""
    return np.random.default_rng(seed).normal(scale=0.25, size=(*leading, joint_count, 3))


def similarity_transform(poses: np.ndarray, seed: int, scale: float) -> np.ndarray:
    """Rotate (a random proper rotation), scale and translate poses (..., J, 3)."""
    rotation = Rotation.random(random_state=seed).as_matrix()
    translation = np.random.default_rng(seed).normal(size=3)
    return scale * poses @ rotation.T + translation


def test_absolute_mpjpe_of_a_uniform_10_mm_offset_is_10_mm_and_root_relative_is_0():
    """Every joint moved by (6, 0, 8) mm: each absolute joint error is sqrt(36 + 64) = 10 mm, so the
    absolute MPJPE is exactly 0.010 m; re-centring both poses on the root removes the shift: 0."""
    target = random_poses(0, (4,))
    predicted = target + OFFSET_10_MM
    np.testing.assert_allclose(mpjpe(predicted, target, root=None), np.full(4, 0.010), rtol=0, atol=1e-12)
    np.testing.assert_allclose(mpjpe(predicted, target), np.zeros(4), rtol=0, atol=1e-12)


def test_root_relative_mpjpe_when_only_non_root_joints_or_only_the_root_move():
    """J = 17, root 0. Moving the 16 non-root joints by 10 mm: after re-centring 16 joints are 10 mm
    off and the root 0 mm, so MPJPE = 16/17 * 10 mm = 9.41176... mm (also in absolute mode). Moving only
    the root by 10 mm: re-centring moves the 16 others by -10 mm relative to it: 16/17 * 10 mm again,
    while the absolute MPJPE sees one joint 10 mm off: 1/17 * 10 mm."""
    target = random_poses(1)
    non_root_moved = target.copy()
    non_root_moved[1:] += OFFSET_10_MM
    root_moved = target.copy()
    root_moved[0] += OFFSET_10_MM
    sixteen_seventeenths = 16 / 17 * 0.010
    assert mpjpe(non_root_moved, target) == pytest.approx(sixteen_seventeenths, abs=1e-12)
    assert mpjpe(non_root_moved, target, root=None) == pytest.approx(sixteen_seventeenths, abs=1e-12)
    assert mpjpe(root_moved, target) == pytest.approx(sixteen_seventeenths, abs=1e-12)
    assert mpjpe(root_moved, target, root=None) == pytest.approx(0.010 / 17, abs=1e-12)


def test_per_joint_error_is_the_euclidean_distance_of_each_joint():
    """Joint k moved by k * (3, 4, 0) mm is k * 5 mm off; with root 2 every joint's error is
    |k - 2| * 5 mm because the root's own shift is subtracted from all."""
    target = random_poses(2, joint_count=5)
    steps = np.arange(5)[:, None] * np.array([0.003, 0.004, 0.0])
    errors_absolute = per_joint_position_error(target + steps, target, root=None)
    errors_relative = per_joint_position_error(target + steps, target, root=2)
    np.testing.assert_allclose(errors_absolute, [0.0, 0.005, 0.010, 0.015, 0.020], atol=1e-12)
    np.testing.assert_allclose(errors_relative, [0.010, 0.005, 0.0, 0.005, 0.010], atol=1e-12)


def test_n_mpjpe_of_a_scaled_copy_is_0_and_of_a_hand_case_is_sqrt2_over_4():
    """A copy scaled by 0.6 about any point and translated is undone by the optimal scale: 0. Hand case,
    J = 2, root at the origin: target joint 1 at (1, 0, 0) m, prediction at (2, 2, 0) m. The scale is
    <P, Q> / <P, P> = 2 / 8 = 0.25, giving (0.5, 0.5, 0): error sqrt(0.5) m on joint 1, 0 on the root,
    N-MPJPE = sqrt(0.5) / 2 = sqrt(2) / 4 m, while the plain MPJPE is sqrt(1 + 4) / 2 m."""
    target = random_poses(3, (3,))
    np.testing.assert_allclose(n_mpjpe(0.6 * target + np.array([0.1, -2.0, 4.0]), target), 0.0, atol=1e-12)
    hand_target = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    hand_predicted = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    assert n_mpjpe(hand_predicted, hand_target) == pytest.approx(np.sqrt(2) / 4, abs=1e-12)
    assert mpjpe(hand_predicted, hand_target) == pytest.approx(np.sqrt(5) / 2, abs=1e-12)


def test_p_mpjpe_of_a_rotated_scaled_translated_copy_is_0_for_float64_and_float32():
    """A proper rotation, scale 1.7 and a translation form a similarity transform, which Procrustes
    undoes exactly: 0 up to rounding (float32 inputs carry about 1e-7 relative rounding, hence 1e-6)."""
    target = random_poses(4, (5,))
    predicted = similarity_transform(target, seed=4, scale=1.7)
    assert np.max(p_mpjpe(predicted, target)) < 1e-12
    assert np.max(p_mpjpe(predicted.astype(np.float32), target.astype(np.float32))) < 1e-6
    np.testing.assert_allclose(procrustes_align(predicted, target), target, atol=1e-12)


def test_p_mpjpe_of_a_mirrored_copy_is_not_0_because_reflections_are_not_allowed():
    """Mirroring x -> -x has determinant -1: no rotation, scale and translation maps a generic (chiral)
    pose onto its mirror image, so P-MPJPE stays well above 0, whereas an orthogonal Procrustes that
    allows reflections (scipy's) matches the mirror image exactly; this tells the two apart."""
    target = random_poses(5)
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    assert p_mpjpe(mirrored, target) > 0.02
    centred_mirror = mirrored - mirrored.mean(axis=0)
    centred_target = target - target.mean(axis=0)
    orthogonal, _ = orthogonal_procrustes(centred_mirror, centred_target)
    np.testing.assert_allclose(centred_mirror @ orthogonal, centred_target, atol=1e-12)


def test_procrustes_matches_roma_batched_including_the_reflection_case():
    """roma.rigid_points_registration (Umeyama with scale, never a reflection) gives (R, t, s) with
    y = s R x + t; our aligned poses must equal it on unrelated random pairs and on near-mirror pairs,
    where the unconstrained optimum is a reflection and the sign fix on the last singular vector acts.
    Aligning a (2, 6) batch at once must also equal aligning each pose on its own."""
    predicted = random_poses(6, (2, 6))
    target = random_poses(7, (2, 6))
    target[1] = predicted[1] * np.array([1.0, -1.0, 1.0]) + np.random.default_rng(8).normal(
        scale=0.01, size=predicted[1].shape
    )
    rotation, translation, scale = roma.rigid_points_registration(
        torch.from_numpy(predicted), torch.from_numpy(target), compute_scaling=True
    )
    expected = scale[..., None, None] * (torch.from_numpy(predicted) @ rotation.transpose(-1, -2))
    expected = (expected + translation[..., None, :]).numpy()
    aligned = procrustes_align(predicted, target)
    np.testing.assert_allclose(aligned, expected, atol=1e-10)
    one_by_one = np.stack([procrustes_align(p, t) for p, t in zip(predicted[1], target[1], strict=True)])
    np.testing.assert_allclose(aligned[1], one_by_one, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.05, 20.0))
def test_p_mpjpe_is_invariant_to_similarity_transforms_of_the_prediction(seed, scale):
    """P-MPJPE(T(P), Q) = P-MPJPE(P, Q) for every rotation, positive scale and translation T, and the
    aligned pose of T(Q) onto Q is Q itself."""
    predicted = random_poses(seed, joint_count=9)
    target = random_poses(seed + 1, joint_count=9)
    moved = similarity_transform(predicted, seed=seed, scale=scale)
    assert p_mpjpe(moved, target) == pytest.approx(p_mpjpe(predicted, target), abs=1e-9)
    np.testing.assert_allclose(procrustes_align(similarity_transform(target, seed, scale), target), target, atol=1e-9)


def test_mpjve_of_constant_offsets_and_constant_velocity_drift():
    """Target: 6 frames of a pose walking at (0.01, 0, 0) m per frame with per-frame noise. A prediction
    shifted by a constant offset has the target's velocities: MPJVE 0 (absolute and root-relative). A
    prediction drifting by (3, 0, 4) mm per frame is off by a constant 5 mm/frame on every joint in
    absolute mode, and 0 root-relative (the drift moves the root too). At 50 Hz, 5 mm/frame = 0.25 m/s."""
    frames = np.arange(6)[:, None, None]
    target = random_poses(9) + frames * np.array([0.01, 0.0, 0.0]) + random_poses(10, (6,)) * 0.1
    offset = target + np.array([0.2, -0.1, 0.05])
    drifting = target + frames * np.array([0.003, 0.0, 0.004])
    assert mpjve(offset, target) == pytest.approx(0.0, abs=1e-12)
    assert mpjve(offset, target, root=None) == pytest.approx(0.0, abs=1e-12)
    assert mpjve(drifting, target) == pytest.approx(0.0, abs=1e-12)
    assert mpjve(drifting, target, root=None) == pytest.approx(0.005, abs=1e-12)
    assert mpjve(drifting, target, root=None) * 50.0 == pytest.approx(0.25, abs=1e-10)


def test_mpjve_of_hand_designed_jitter():
    """Static target at the origin, J = 3, T = 3, d = 3 mm. The root jitters x = 0, d, 0.
    Absolute: one joint of three moves by d in each of the 2 differences: MPJVE = d / 3 = 1 mm/frame.
    Root-relative: the root is fixed and the 2 others move -d then +d: MPJVE = 2 d / 3 = 2 mm/frame.
    Second sequence: joint 1 of J = 3 jitters instead: 1 of 3 joints moves d per frame in both modes.
    Batched as (2, T, J, 3) the two results come back together."""
    d = 0.003
    target = np.zeros((2, 3, 3, 3))
    predicted = target.copy()
    predicted[0, 1, 0, 0] = d
    predicted[1, 1, 1, 0] = d
    np.testing.assert_allclose(mpjve(predicted, target, root=None), [d / 3, d / 3], atol=1e-15)
    np.testing.assert_allclose(mpjve(predicted, target), [2 * d / 3, d / 3], atol=1e-15)


def designed_errors(root_joint: bool) -> tuple[np.ndarray, np.ndarray]:
    """Poses whose joint errors are exactly 0, 50, 100, 149, 151 and 200 mm (along x, so the norm is
    exact; 50 and 100 mm are taken from AUC_THRESHOLDS_METRES so they tie with a threshold exactly),
    preceded by an error-free root joint when ``root_joint``."""
    errors = [0.0, AUC_THRESHOLDS_METRES[10], AUC_THRESHOLDS_METRES[20], 0.149, 0.151, 0.200]
    if root_joint:
        errors = [0.0, *errors]
    target = np.zeros((len(errors), 3))
    predicted = target.copy()
    predicted[:, 0] = errors
    return predicted, target


def test_pck_at_150_mm_and_at_a_tied_threshold_with_both_comparison_conventions():
    """Errors 0, 50, 100, 149, 151, 200 mm (absolute mode). At 150 mm four are below (and none is
    equal): PCK = 4/6 under '<' and '<='. At exactly 100 mm, '<' counts 0 and 50 (2/6) while '<='
    also counts the tied 100 (3/6). The default convention is the official strict '<'."""
    predicted, target = designed_errors(root_joint=False)
    assert PCK_THRESHOLD_METRES == 0.150
    assert pck(predicted, target, root=None) == pytest.approx(4 / 6)
    assert pck(predicted, target, root=None, inclusive=True) == pytest.approx(4 / 6)
    tie = AUC_THRESHOLDS_METRES[20]
    assert pck(predicted, target, threshold=tie, root=None) == pytest.approx(2 / 6)
    assert pck(predicted, target, threshold=tie, root=None, inclusive=True) == pytest.approx(3 / 6)


def test_auc_counts_thresholds_passed_by_each_error():
    """Thresholds 0, 5, ..., 150 mm (31). Under '<' an error passes the thresholds above it: 0 mm passes
    30 (all but 0), 50 mm passes 55..150 (20), 100 mm 105..150 (10), 149 mm only 150 (1), 151 and
    200 mm none: AUC = 61 / (31 * 6). Under '<=' ties pass too: 31 + 21 + 11 + 1 = 64, so 64 / 186."""
    predicted, target = designed_errors(root_joint=False)
    np.testing.assert_allclose(AUC_THRESHOLDS_METRES, np.arange(31) * 0.005, atol=1e-15)
    assert auc(predicted, target, root=None) == pytest.approx(61 / 186)
    assert auc(predicted, target, root=None, inclusive=True) == pytest.approx(64 / 186)


def test_pck_and_auc_count_only_the_chosen_joints_after_root_centring():
    """A root (index 0, error 0 after re-centring) precedes the six designed errors. Counting all 7:
    PCK = 5/7, AUC = (61 + 30) / (31 * 7) = 91/217 under '<'. Counting joints 1..6, as the MPI-INF-3DHP
    protocol leaves the pelvis out: PCK = 4/6, AUC = 61/186. A perfect prediction (second pose) has
    PCK 1 and, under '<', AUC 30/31 because no error is below the 0 mm threshold."""
    predicted, target = designed_errors(root_joint=True)
    predicted = np.stack([predicted, target])
    target = np.stack([target, target])
    np.testing.assert_allclose(pck(predicted, target), [5 / 7, 1.0])
    np.testing.assert_allclose(auc(predicted, target), [91 / 217, 30 / 31])
    np.testing.assert_allclose(pck(predicted, target, joints=range(1, 7)), [4 / 6, 1.0])
    np.testing.assert_allclose(auc(predicted, target, joints=range(1, 7)), [61 / 186, 30 / 31])


def test_aggregate_by_group_averages_each_action_then_the_actions():
    """Walk: 1, 2, 3 -> 2; Sit: 10, 20 -> 15; average over actions (8.5), not over frames (36/5 = 7.2).
    Groups keep their order of first appearance and the average comes last."""
    table = aggregate_by_group(np.array([1.0, 10.0, 2.0, 20.0, 3.0]), ["Walk", "Sit", "Walk", "Sit", "Walk"])
    assert list(table) == ["Walk", "Sit", AVERAGE_KEY]
    assert table == pytest.approx({"Walk": 2.0, "Sit": 15.0, AVERAGE_KEY: 8.5})
    with pytest.raises(ValueError, match="one group per value"):
        aggregate_by_group(np.array([1.0, 2.0]), ["Walk"])
    with pytest.raises(ValueError, match="average"):
        aggregate_by_group(np.array([1.0]), [AVERAGE_KEY])


def test_per_joint_table_averages_each_joint_over_samples():
    """Two samples: pelvis (0.01 + 0.03) / 2 = 0.02, hip 0.03, knee 0.04 metres."""
    errors = np.array([[0.01, 0.02, 0.03], [0.03, 0.04, 0.05]])
    table = per_joint_table(errors, ["pelvis", "hip", "knee"])
    assert list(table) == ["pelvis", "hip", "knee"]
    assert table == pytest.approx({"pelvis": 0.02, "hip": 0.03, "knee": 0.04})
    with pytest.raises(ValueError, match="distinct"):
        per_joint_table(errors, ["pelvis", "hip", "hip"])
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        per_joint_table(errors, ["pelvis", "hip"])


def test_invalid_inputs_are_refused_with_the_rule_and_the_value():
    """Mismatched shapes, a root outside [0, J), a single frame for MPJVE and negative thresholds."""
    poses = random_poses(13, (2,))
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(poses, poses[:, :-1])
    with pytest.raises(ValueError, match=r"root must be .* got 17"):
        mpjpe(poses, poses, root=17)
    with pytest.raises(ValueError, match="T >= 2"):
        mpjve(poses[:1], poses[:1])
    with pytest.raises(ValueError, match=">= 0"):
        auc(poses, poses, thresholds=np.array([-0.01, 0.05]))


def test_module_docstring_example_runs():
    """The example in ``lifting.metrics``'s docstring (absolute MPJPE of a 10 mm shift) runs and holds."""
    result = doctest.testmod(lifting.metrics)
    assert result.attempted > 0
    assert result.failed == 0
