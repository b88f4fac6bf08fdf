"""Side-by-side benchmark harness: interleaved timings of a workload and its baseline, reported as ratios.

The machines this project runs on are shared and noisy, so a bare time means little. ``compare`` runs the
workload and its baseline alternately in the same process (``baseline, workload, baseline, ...``), so both
see the same machine state, and reports the median of the per-round speed ratios together with both rates.

    python -m bench.harness --self-test     # a workload that does half the work of its baseline: ratio ~2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Comparison:
    """Result of one side-by-side comparison.

    Attributes:
        name: What the workload is.
        baseline_name: What it is compared against.
        unit: What one unit of work is, e.g. ``"frames"``.
        units_per_call: Units of work done by one call of either function.
        workload_seconds: Per-round times of the workload.
        baseline_seconds: Per-round times of the baseline, measured in the same rounds.
    """

    name: str
    baseline_name: str
    unit: str
    units_per_call: float
    workload_seconds: tuple[float, ...]
    baseline_seconds: tuple[float, ...]

    @property
    def ratios(self) -> list[float]:
        """Per-round speed-up: baseline time / workload time (> 1 means the workload is faster)."""
        return [base / work for base, work in zip(self.baseline_seconds, self.workload_seconds, strict=True)]

    @property
    def speedup(self) -> float:
        """Median per-round speed-up."""
        return statistics.median(self.ratios)

    @property
    def workload_rate(self) -> float:
        """Units per second of the workload (median round)."""
        return self.units_per_call / statistics.median(self.workload_seconds)

    @property
    def baseline_rate(self) -> float:
        """Units per second of the baseline (median round)."""
        return self.units_per_call / statistics.median(self.baseline_seconds)

    def row(self) -> str:
        """One table line."""
        low, high = min(self.ratios), max(self.ratios)
        return (
            f"{self.name:<38} {self.baseline_name:<30} {self.workload_rate:>12.4g} {self.baseline_rate:>12.4g} "
            f"{self.speedup:>8.2f}x  [{low:.2f}..{high:.2f}]"
        )


def _time(function: Callable[[], Any], synchronize: Callable[[], None] | None) -> float:
    start = time.perf_counter()
    function()
    if synchronize is not None:
        synchronize()
    return time.perf_counter() - start


def compare(
    name: str,
    workload: Callable[[], Any],
    baseline_name: str,
    baseline: Callable[[], Any],
    *,
    unit: str = "calls",
    units_per_call: float = 1.0,
    rounds: int = 5,
    warmup: int = 1,
    synchronize: Callable[[], None] | None = None,
) -> Comparison:
    """Time ``workload`` and ``baseline`` alternately for ``rounds`` rounds after ``warmup`` rounds.

    Args:
        name: Label of the workload.
        workload: Does one unit batch of work.
        baseline_name: Label of the baseline.
        baseline: Does the same work the reference way.
        unit: Name of a unit of work (for the rate columns).
        units_per_call: Units done by one call.
        rounds: Measured rounds; each round times the baseline then the workload.
        warmup: Unmeasured rounds first (caches, JIT, allocator).
        synchronize: Called after each call before stopping the clock (e.g. ``torch.cuda.synchronize``).
    """
    for _ in range(warmup):
        baseline()
        workload()
    workload_seconds, baseline_seconds = [], []
    for _ in range(rounds):
        baseline_seconds.append(_time(baseline, synchronize))
        workload_seconds.append(_time(workload, synchronize))
    return Comparison(name, baseline_name, unit, units_per_call, tuple(workload_seconds), tuple(baseline_seconds))


def report(title: str, comparisons: Sequence[Comparison]) -> str:
    """A table of comparisons: both rates, the median speed-up and its range over rounds."""
    unit = comparisons[0].unit if comparisons else "units"
    header = f"{'workload':<38} {'baseline':<30} {unit + '/s':>12} {'base ' + unit + '/s':>12} {'speed-up':>9}  range"
    lines = [title, header, "-" * len(header), *(comparison.row() for comparison in comparisons)]
    return "\n".join(lines)


def _self_test() -> None:
    def full() -> int:
        return sum(range(400_000))

    def half() -> int:
        return sum(range(200_000))

    comparison = compare("sum of half the list", half, "sum of the whole list", full, unit="sums", rounds=7)
    print(report("harness self-test (expect about 2x)", [comparison]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--self-test", action="store_true", help="run a comparison with a known ratio of about 2")
    arguments = parser.parse_args()
    if arguments.self_test:
        _self_test()
    else:
        parser.print_help()
