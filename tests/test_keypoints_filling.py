"""Filling over time: observed entries stay, gaps are linear between their neighbours, edges are held."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.keypoints.tracks import fill_over_time


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=2, max_size=30).filter(any), st.integers(0, 2**31 - 1))
def test_fill_keeps_observed_values_and_interpolates_the_rest(mask, seed):
    """For every unobserved frame t: with observed neighbours a < t < b, x(t) = x(a) + (t - a) (x(b) - x(a)) /
    (b - a); before the first observed frame x = x(first), after the last x = x(last)."""
    rng = np.random.default_rng(seed)
    observed = np.array(mask)[:, None]
    keypoints = rng.uniform(0, 1000, size=(len(mask), 1, 3)).astype(np.float32)
    keypoints[~observed[:, 0], 0, :2] = np.nan
    filled = fill_over_time(keypoints, observed)
    seen = np.flatnonzero(observed[:, 0])
    np.testing.assert_array_equal(filled[seen], keypoints[seen])
    for t in np.flatnonzero(~observed[:, 0]):
        before, after = seen[seen < t], seen[seen > t]
        if not len(before):
            expected = keypoints[after[0], 0, :2]
        elif not len(after):
            expected = keypoints[before[-1], 0, :2]
        else:
            a, b = before[-1], after[0]
            expected = keypoints[a, 0, :2] + (t - a) * (keypoints[b, 0, :2] - keypoints[a, 0, :2]) / (b - a)
        np.testing.assert_allclose(filled[t, 0, :2], expected, rtol=1e-5, atol=1e-3)
