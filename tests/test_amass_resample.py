"""Resampling to the target rate: exact frame counts, linear interpolation, only the needed source frames."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.resample import apply_plan, resample, resampled_frame_count, resampling_plan


@pytest.mark.parametrize(
    ("frames", "source_fps", "expected"),
    [
        (500, 120.0, 208),  # 500 / 120 * 50 = 208.33 (the real sample)
        (600, 60.0, 500),  # 10 s exactly
        (250, 100.0, 125),  # 2.5 s exactly
        (1000, 250.0, 200),  # 4 s exactly
        (599, 59.94, 499),  # 599 / 59.94 * 50 = 499.67
        (235, 120.00004577636719, 97),  # 235 / 120.0000458 * 50 = 97.9166
        (3, 120.0, 1),  # 1.25 frames
        (2, 120.0, 0),  # 0.83 frames: too short
        (0, 120.0, 0),
    ],
)
def test_frame_count_is_floor_of_duration_times_rate(frames, source_fps, expected):
    """Expected = floor(frames / source_fps * 50), worked out by hand in the comments."""
    assert resampled_frame_count(frames, source_fps, 50.0) == expected
    assert resampling_plan(frames, source_fps, 50.0).frames == expected


def test_exact_integers_survive_float_rounding():
    """58 frames at 100 Hz last 0.58 s: exactly 29 frames at 50 Hz, although 58 / 100 * 50 evaluates to
    28.999999999999996 in floating point."""
    assert 58 / 100.0 * 50.0 < 29.0
    assert resampled_frame_count(58, 100.0, 50.0) == 29


def test_plan_120_to_50_golden():
    """Output frame i sits at source position 2.4 i: frames 0, 2.4, 4.8, 7.2 -> (0, w 0), (2, 0.4),
    (4, 0.8), (7, 0.2)."""
    plan = resampling_plan(10, 120.0, 50.0)
    assert plan.lower.tolist() == [0, 2, 4, 7]
    assert plan.upper.tolist() == [0, 3, 5, 8]
    np.testing.assert_allclose(plan.weight, [0.0, 0.4, 0.8, 0.2], atol=1e-12)
    assert plan.source_frames.tolist() == [0, 2, 3, 4, 5, 7, 8]


def test_linear_motion_is_reproduced_exactly():
    """Positions moving at constant velocity are sampled exactly at the new times t = i / 50."""
    source_fps, frames = 120.0, 360
    times = np.arange(frames) / source_fps
    positions = np.stack([1.0 + 0.7 * times, -2.0 * times, np.full(frames, 0.9)], axis=1)[:, None, :]
    resampled = resample(positions, source_fps, 50.0)
    target_times = np.arange(len(resampled)) / 50.0
    expected = np.stack([1.0 + 0.7 * target_times, -2.0 * target_times, np.full(len(resampled), 0.9)], axis=1)
    np.testing.assert_allclose(resampled[:, 0], expected, atol=1e-12)


def test_same_rate_is_identity_and_tail_holds_the_last_frame():
    values = np.arange(12.0).reshape(4, 3)
    np.testing.assert_array_equal(resample(values, 60.0, 60.0), values)
    plan = resampling_plan(3, 100.0, 60.0)  # times 0, 1/60, 2/60, 3/60 -> positions 0, 1.67, 3.33 (> 2)
    assert plan.frames == 1 and plan.lower.tolist() == [0]
    # Upsampling 4 frames from 40 to 50 Hz: 5 outputs at positions 0, 0.8, 1.6, 2.4, 3.2; the last lies
    # beyond source frame 3 (within the sequence's 0.1 s) and holds it.
    tail = resampling_plan(4, 40.0, 50.0)
    assert tail.lower.tolist() == [0, 0, 1, 2, 3] and tail.upper[-1] == 3 and tail.weight[-1] == 0.0


def test_values_at_needed_frames_only_give_the_same_result():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(250, 17, 3))
    plan = resampling_plan(len(values), 250.0, 50.0)
    needed = plan.source_frames
    assert len(needed) == plan.frames  # 250 -> 50 Hz is an integer stride: one source frame per output
    np.testing.assert_array_equal(apply_plan(plan, values[needed], needed), apply_plan(plan, values))


@settings(max_examples=200, deadline=None)
@given(
    frames=st.integers(min_value=0, max_value=5000),
    source_fps=st.sampled_from([24.0, 25.0, 29.97, 50.0, 59.94, 60.0, 100.0, 120.0, 120.00004577636719, 250.0]),
    target_fps=st.sampled_from([10.0, 25.0, 30.0, 50.0, 60.0]),
)
def test_plan_invariants(frames, source_fps, target_fps):
    """Count = floor(frames * target / source) in exact rational arithmetic; indices in range, weights in
    [0, 1), and each output time lies between its two source frames."""
    exact = Fraction(frames) * Fraction(target_fps) / Fraction(source_fps)
    plan = resampling_plan(frames, source_fps, target_fps)
    assert plan.frames == math.floor(exact)
    if plan.frames:
        assert plan.lower.min() >= 0 and plan.upper.max() <= frames - 1
        assert (plan.weight >= 0).all() and (plan.weight < 1).all()
        position = plan.lower + plan.weight
        moving = plan.upper > plan.lower
        np.testing.assert_allclose(position[moving], (np.arange(plan.frames) * source_fps / target_fps)[moving])


def test_invalid_rates_raise():
    with pytest.raises(ValueError, match="finite and positive"):
        resampled_frame_count(10, 0.0, 50.0)
    with pytest.raises(ValueError, match="finite and positive"):
        resampled_frame_count(10, float("nan"), 50.0)
