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
    model's forward (and forward + backward) on windows of the same length, divided by the window count. That
    checks the printing against the counter; the counting itself is checked by hand in the next test."""
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


def test_flops_per_window_are_the_hand_counted_matrix_products(monkeypatch):
    """A bias-free Linear(4 -> 3) on 2 windows of 5 frames, counted by hand (2 FLOPs per multiply-add).

    Forward: one (10 x 4) @ (4 x 3) product, 2 * 10 * 4 * 3 = 240 FLOPs, 120 per window. Backward: only the
    weight needs a gradient (the keypoints do not), (3 x 10) @ (10 x 4) = 240 FLOPs; forward + backward 480,
    240 per window. The centre pose is a slice of the sequence and the sums cost no matrix product.
    """
    from types import SimpleNamespace

    import torch

    linear = torch.nn.Linear(4, 3, bias=False)

    def forward(model, batch):
        sequence = model(batch["keypoints"])
        return SimpleNamespace(sequence=sequence, centre=sequence[:, 2])

    monkeypatch.setattr(bench_training, "forward_windows", forward)
    batch = {"keypoints": torch.randn(2, 5, 4)}
    assert bench_training.training_flops_per_window(linear, batch) == (120.0, 240.0)
