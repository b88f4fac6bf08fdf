"""Lifting's inference rate beside evaluation's on the same model: frames per second over one long input.

``lift`` runs a detector's keypoints through evaluation's own windows and forward pass
(``lifting.lift.lift_keypoints``: ``PoseWindows.over_sequences`` + ``predict_view``), from arrays in memory;
evaluation reads the same frames from a pose store (``PoseWindows(store)`` + ``predict_view``). Both run the
same model, plan (MixSTE's seq2seq tiles of T = 243 frames, flip test, evaluation's batch of 256 windows)
and input (a 20,000-frame random walk, 50 Hz, 1000 x 1000 images), side by side in one run
(``bench.harness.compare``); the lifted poses are checked equal to the evaluated ones (minus the root joint)
before timing. The issue's target: lift at least 0.8x evaluation's rate.

    python -m bench.bench_lift                   # MixSTE T = 243 at width 32, 20,000 frames, CPU
    python -m bench.bench_lift --tiny            # seconds: T = 27, 600 frames, one round
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from bench.bench_loader import synthetic_store
from bench.harness import Comparison, compare, report
from datasets.windows import PoseWindows, WindowConfig
from lifting.evaluation import EvaluationConfig, InferencePlan, predict_view
from lifting.lift import Lifter, lift_keypoints
from lifting.models.mixste import MixSTE, MixSTEConfig

FPS, IMAGE_SIZE = 50.0, (1000, 1000)
"""The synthetic store's frame rate and its camera's image (``bench.bench_loader.synthetic_store``)."""
TARGET_RATIO = 0.8


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20_000, help="frames of the input")
    parser.add_argument("--window", type=int, default=243, help="MixSTE's window T")
    parser.add_argument("--width", type=int, default=32, help="MixSTE's token width (the paper's: 512)")
    parser.add_argument("--depth", type=int, default=2, help="MixSTE's loops (the paper's: 8)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--tiny", action="store_true", help="T = 27, 600 frames, width 16, one round (tests)")
    arguments = parser.parse_args(argv)
    if arguments.tiny:
        arguments.frames, arguments.window, arguments.width, arguments.depth, arguments.rounds = 600, 27, 16, 1, 1
    return arguments


def main(argv: Sequence[str] | None = None) -> Comparison:
    """Run the comparison, print the table and the ratio line; returns the comparison."""
    arguments = _arguments(argv)
    device = torch.device(arguments.device)
    torch.manual_seed(0)
    config = MixSTEConfig(max_frames=arguments.window, dim=arguments.width, depth=arguments.depth, num_heads=4)
    model = MixSTE(config).to(device).eval()
    evaluation = EvaluationConfig()
    plan = InferencePlan("seq2seq", WindowConfig(frames=arguments.window, key_frame_alignment="global"),
                         flip_test=evaluation.flip_test, batch_size=evaluation.batch_size)  # fmt: skip
    lifter = Lifter(model, plan, FPS, "h36m17", device)
    with tempfile.TemporaryDirectory() as scratch:
        store = synthetic_store(Path(scratch) / "store", 1, arguments.frames)
        windows = PoseWindows(store, plan.window, splits=("train",))
        pixels = np.asarray(store.read("keypoints_2d", int(store.index["view_id"][0].as_py())))

        def evaluate() -> np.ndarray:
            return predict_view(model, windows, 0, plan, device)

        def lift() -> np.ndarray:
            return lift_keypoints(lifter, pixels, FPS, IMAGE_SIZE, progress=False)

        evaluated, lifted = evaluate(), lift()
        difference = float(np.abs(lifted - (evaluated - evaluated[:, :1])).max())
        print(f"same poses, lift vs evaluation (root-relative): max difference {difference:.2e} m "
              f"over {len(lifted)} frames")  # fmt: skip
        label = f"MixSTE T={arguments.window} width {arguments.width}, {arguments.frames} frames"
        comparison = compare(f"lift ({label})", lift, "evaluation predict_view (store)", evaluate, unit="frames",
                             units_per_call=arguments.frames, rounds=arguments.rounds, warmup=1)  # fmt: skip
    print(report(f"lift vs evaluation inference on {device.type}", [comparison]))
    print(f"ratio lift/evaluation, {label}: {comparison.speedup:.2f}x (target >= {TARGET_RATIO})")
    return comparison


if __name__ == "__main__":
    main()
