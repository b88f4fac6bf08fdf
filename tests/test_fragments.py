"""Fragments: compressed per-item arrays that read back bit for bit, and a damaged one is converted again."""

from __future__ import annotations

import numpy as np
from conftest import synthetic_views

from datasets.store.fragments import FRAGMENT_SUFFIX, convert_to_fragment, load_fragment_view, save_fragment
from datasets.store.writer import view_arrays


def test_fragment_reads_back_bit_for_bit_and_is_smaller_than_its_arrays(tmp_path):
    """Two views of 200 and 203 frames: every array equal bytes for bytes after the round trip, and the file
    smaller than the raw arrays (float32 random walks share their exponent and sign bytes, which byte shuffle
    lines up for LZ4)."""
    views = synthetic_views([200, 203], seed=4)
    info = save_fragment(tmp_path / f"item{FRAGMENT_SUFFIX}", "item", views)
    raw = 0
    for number, view in enumerate(views):
        expected = view_arrays(view)
        loaded = load_fragment_view(info.path, number, [*expected, "not_there"])
        assert sorted(loaded) == sorted(expected)
        for name, values in expected.items():
            assert loaded[name].dtype == values.dtype and loaded[name].tobytes() == values.tobytes()
            raw += values.nbytes
    assert (tmp_path / f"item{FRAGMENT_SUFFIX}").stat().st_size < 0.9 * raw


def test_a_damaged_fragment_is_converted_again_on_rerun(tmp_path):
    calls = []

    def convert(item):
        calls.append(item)
        return synthetic_views([50], seed=1)

    first = convert_to_fragment("a", "a", convert, tmp_path)
    assert convert_to_fragment("a", "a", convert, tmp_path) == first and calls == ["a"]  # reused
    with open(first.path, "r+b") as handle:  # zero the start of the first compressed member
        handle.seek(40)
        handle.write(bytes(64))
    again = convert_to_fragment("a", "a", convert, tmp_path)
    assert calls == ["a", "a"]
    np.testing.assert_array_equal(load_fragment_view(again.path, 0, ["joints_3d"])["joints_3d"],
                                  synthetic_views([50], seed=1)[0].joints_3d)  # fmt: skip
