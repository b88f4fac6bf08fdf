"""bench.bench_training runs at its tiny CPU size and prints its ratio lines with the right FLOP counts."""

from __future__ import annotations

import re

import pytest
from torch.utils.flop_counter import FlopCounterMode

from bench import bench_training
from lifting.models import build_model


def test_tiny_training_bench_prints_ratios_and_the_flop_counter_numbers(capsys):
    """One tiny case (Strided demo, batch 4): the table row, a finite positive train()/bare-step ratio, a skip
    line for the released-code comparison, and FLOPs per window equal to FlopCounterMode's count of the demo
    model's forward (and forward + backward) on windows of the same length, divided by the window count."""
    bench_training.main(["--tiny", "--device", "cpu", "--steps", "1", "--warmup", "1", "--models", "strided",
                         "--views", "2"])  # fmt: skip
    printed = capsys.readouterr().out
    ratio = re.search(r"ratio train\(\)/bare step, strided demo batch 4: ([0-9.]+)x", printed)
    assert ratio is not None and float(ratio.group(1)) > 0, printed
    assert "ratio ours/released step, strided demo batch 4: skipped (tiny run" in printed
    flops = re.search(r"FLOPs per window, strided demo batch 4: forward (\S+), forward\+backward (\S+) ", printed)
    assert flops is not None, printed

    model = build_model("strided", "demo").train()
    inputs = model.example_inputs(batch_size=3)
    with FlopCounterMode(display=False) as forward:
        output = model(**inputs)
    with FlopCounterMode(display=False) as backward:
        (output.sequence.sum() + output.centre.sum()).backward()
    expected_forward = forward.get_total_flops() / 3
    expected_total = (forward.get_total_flops() + backward.get_total_flops()) / 3
    assert float(flops.group(1)) == pytest.approx(expected_forward, rel=1e-5)  # printed with 6 digits
    assert float(flops.group(2)) == pytest.approx(expected_total, rel=1e-5)
    assert expected_total > 2 * expected_forward  # the backward pass costs about twice the forward
