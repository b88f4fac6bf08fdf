"""bench.bench_lift runs at its tiny size: lift and evaluation give the same poses, and the ratio line is printed."""

from __future__ import annotations

import re

from bench import bench_lift


def test_tiny_lift_bench_compares_equal_poses_and_prints_the_ratio(capsys):
    """600 frames, T = 27: the lifted poses equal evaluation's minus its root joint (difference printed as 0 to
    float rounding), the rates are 600 frames over each side's median round, and the ratio line is printed."""
    comparison = bench_lift.main(["--tiny"])
    printed = capsys.readouterr().out
    difference = re.search(r"max difference (\S+) m over 600 frames", printed)
    assert difference is not None and float(difference.group(1)) <= 1e-6, printed
    assert comparison.units_per_call == 600 and comparison.unit == "frames"
    assert comparison.workload_rate == 600 / comparison.workload_seconds[0]
    ratio = re.search(r"ratio lift/evaluation, MixSTE T=27 width 16, 600 frames: ([0-9.]+)x \(target >= 0.8\)", printed)
    assert ratio is not None and float(ratio.group(1)) > 0, printed
