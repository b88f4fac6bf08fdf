"""Loader throughput: windows per second of ``datasets.windows`` against slicing one numpy array per sequence.

The reference approach (VideoPose3D's chunked generator, which MixSTE and the Strided Transformer reuse) keeps
one pre-normalised array per sequence in RAM and, for every window of a batch, slices it, edge-padding with
``np.pad`` at the borders, into a preallocated batch. Ours gathers the whole batch from the store's flat frame
arrays with ``np.take`` (frames in RAM), or from Zarr chunks through the LRU cache. Both produce the same
windows (checked before timing). The chunk cache is also timed side by side against the in-RAM source (the
target: at least 0.8x once the chunks a batch needs are decoded). Then, if CUDA is present, the
training-step rate of each model on the GPU in windows per second, to show the loader is not the bottleneck
(one loader process; workers multiply it).

    python -m bench.bench_loader                          # T = 243, 17 joints, batch 1024
    python -m bench.bench_loader --views 8 --rounds 3     # quicker
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.harness import compare, report
from datasets.cameras import Camera
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from datasets.views import View
from datasets.windows import PoseWindows, WindowConfig

JOINTS = 17
REFERENCE = "per-sequence numpy slicing"
GPU_MODELS = (("uplift-upsample", "h36m-351", 512), ("mixste", "h36m-243", 4), ("mixste", "h36m-243", 64))
"""(model, preset, batch) timed on the GPU: the papers' batches (MixSTE's released 4 clips) and a larger one."""


def synthetic_store(directory: Path, views: int, frames: int, seed: int = 0) -> PoseStore:
    """A store of ``views`` random-walk views of ``frames`` frames seen by a 1000 x 1000 pinhole camera."""
    rng = np.random.default_rng(seed)
    camera = Camera("bench", 1000.0, 1000.0, 500.0, 500.0, 1000, 1000, np.eye(3), np.zeros(3))
    records = []
    for number in range(views):
        joints = np.cumsum(rng.normal(scale=0.01, size=(frames, JOINTS, 3)), axis=0) + [0.0, 0.0, 4.0]
        pixels = 1000.0 * joints[..., :2] / joints[..., 2:] + 500.0
        records.append(
            View(
                "bench",
                "bench",
                f"S{number}",
                "Walking",
                f"Walking {number}",
                "train",
                50.0,
                camera,
                joints.astype(np.float32),
                pixels.astype(np.float32),
            )  # fmt: skip
        )
    write_store(directory, records, "h36m17", get_skeleton("h36m17").joint_names)
    return PoseStore(directory)


def per_sequence_arrays(windows: PoseWindows) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The reference's input: one normalised 2D and one root-relative 3D array per sequence (from RAM frames)."""
    frames = windows.frames
    starts, lengths = windows.view_starts[windows.rows], windows.view_lengths[windows.rows]
    keypoints = [frames.keypoints[start : start + length] for start, length in zip(starts, lengths, strict=True)]
    joints = [frames.joints_3d[start : start + length] for start, length in zip(starts, lengths, strict=True)]
    return keypoints, joints


def reference_batch(keypoints: list, joints: list, sequences: np.ndarray, centres: np.ndarray, frames: int):
    """Slice every window from its sequence's array, edge-padding at the borders (VideoPose3D's way)."""
    batch_2d = np.empty((len(centres), frames, JOINTS, 2), np.float32)
    batch_3d = np.empty((len(centres), frames, JOINTS, 3), np.float32)
    for number, (sequence, centre) in enumerate(zip(sequences, centres, strict=True)):
        start, end = centre - frames // 2, centre - frames // 2 + frames
        low, high = max(start, 0), min(end, len(keypoints[sequence]))
        padding = ((low - start, end - high), (0, 0), (0, 0))
        if padding[0] != (0, 0):
            batch_2d[number] = np.pad(keypoints[sequence][low:high], padding, "edge")
            batch_3d[number] = np.pad(joints[sequence][low:high], padding, "edge")
        else:
            batch_2d[number] = keypoints[sequence][low:high]
            batch_3d[number] = joints[sequence][low:high]
    return batch_2d, batch_3d


def gpu_step_rates(rounds: int) -> list[str]:
    """Training-step windows/s of each ``GPU_MODELS`` entry (bf16, TF32), or why none were measured."""
    if not torch.cuda.is_available():
        return ["CUDA absent: GPU step rate not measured (run on a CUDA machine to compare with the loader)."]
    from lifting.training import LossConfig, TrainingConfig, resolve_model_config, train_step, window_config_for
    from lifting.training.model_interface import build_model_from_config
    from lifting.training.objectives import LiftingObjective, loss_kind_for

    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    device, lines = torch.device("cuda"), []
    for model_name, preset, batch_size in GPU_MODELS:
        config = resolve_model_config(model_name, preset)
        window = window_config_for(config, TrainingConfig().window, "training")
        model = build_model_from_config(model_name, config).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=4e-5)
        objective = LiftingObjective(loss_kind_for(model_name, LossConfig()), LossConfig(), "h36m17")
        batch = {
            "keypoints": torch.randn(batch_size, window.tokens, JOINTS, 2, device=device),
            "joints_3d": torch.randn(batch_size, window.tokens, JOINTS, 3, device=device),
            "key_frame_mask": torch.ones(batch_size, window.tokens, dtype=torch.bool, device=device),
        }
        for _ in range(3):
            train_step(model, batch, optimizer, objective, bf16=True)
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(rounds):
            train_step(model, batch, optimizer, objective, bf16=True)
        torch.cuda.synchronize()
        rate = rounds * batch_size / (time.perf_counter() - started)
        lines.append(
            f"GPU step {model_name} {preset} batch {batch_size}: {rate:,.0f} windows/s ({torch.cuda.get_device_name()})"
        )
        del model, optimizer
        torch.cuda.empty_cache()
    return lines


def _arguments() -> argparse.Namespace:
    """The command line: window, batch and store sizes, rounds."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=243, help="window length T")
    parser.add_argument("--batch", type=int, default=1024, help="windows per batch")
    parser.add_argument("--views", type=int, default=32, help="sequences in the synthetic store")
    parser.add_argument("--view-frames", type=int, default=5000, help="frames per sequence")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds")
    parser.add_argument("--gpu-steps", type=int, default=20, help="timed GPU steps per model")
    return parser.parse_args()


def _comparisons(memory: PoseWindows, chunks: PoseWindows, arguments: argparse.Namespace) -> list:
    """Time both caches against the reference batch and each other, after checking they give its values."""
    keypoints, joints = per_sequence_arrays(memory)
    picks = np.random.default_rng(0).integers(0, len(memory), size=arguments.batch)
    rows, centres = memory.locate(picks)
    sequences = np.searchsorted(memory.rows, rows)
    keys = [(0, int(index)) for index in picks]
    ours = memory.__getitems__(keys)
    reference = reference_batch(keypoints, joints, sequences, centres, arguments.frames)
    assert np.array_equal(ours["keypoints"], reference[0]) and np.array_equal(ours["joints_3d"], reference[1])
    assert np.allclose(chunks.__getitems__(keys)["joints_3d"], reference[1], atol=1e-6)

    def baseline() -> object:
        return reference_batch(keypoints, joints, sequences, centres, arguments.frames)

    def in_memory() -> object:
        return memory.__getitems__(keys)

    def from_chunks() -> object:
        return chunks.__getitems__(keys)

    options = {"unit": "windows", "units_per_call": arguments.batch, "rounds": arguments.rounds}
    in_ram = "datasets.windows, frames in RAM"
    return [
        compare(in_ram, in_memory, REFERENCE, baseline, **options),
        compare("datasets.windows, Zarr chunk cache", from_chunks, REFERENCE, baseline, **options),
        compare("datasets.windows, Zarr chunk cache", from_chunks, in_ram, in_memory, **options),
    ]


def main() -> None:
    """Run the comparison and print the table, the ratio and the GPU step rates."""
    arguments = _arguments()
    with tempfile.TemporaryDirectory() as directory:
        store = synthetic_store(Path(directory) / "store", arguments.views, arguments.view_frames)
        memory = PoseWindows(store, WindowConfig(frames=arguments.frames, cache="memory"))
        chunks = PoseWindows(store, WindowConfig(frames=arguments.frames, cache="chunks"))
        comparisons = _comparisons(memory, chunks, arguments)
        title = f"Loader: T={arguments.frames}, {JOINTS} joints, batch {arguments.batch}, one process"
        print(report(title, comparisons))
        print(f"\nloader ratio (ours in RAM / reference): {comparisons[0].speedup:.2f}x")
        print(f"chunk-cache ratio (Zarr chunk cache / in RAM, side by side): {comparisons[2].speedup:.2f}x")
        for line in gpu_step_rates(arguments.gpu_steps):
            print(line)


if __name__ == "__main__":
    main()
