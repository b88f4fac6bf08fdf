"""Training throughput of each model at its paper preset: the bare step, the real trainer, the released code.

For every case (model, preset, batch) this prints, in windows per second:

(a) the bare step: ``train_step`` on one batch already on the device, with the model, optimiser, loss,
    precision and ``torch.compile`` choice the trainer builds (``lifting.training.loop``);
(b) the real training loop (``_TrainingRun.run``, the body of ``train()``) with the real loader over a
    synthetic store (``bench.bench_loader.synthetic_store``), from its ``metrics.jsonl`` rates;
(c) the authors' released PyTorch code's step (MixSTE, Strided Transformer) with a plain MPJPE, when a
    clone is found under ``--reference-dir`` (``--fetch-reference`` clones it there); skipped with a message
    otherwise. Uplift-and-Upsample's released code is TensorFlow: no (c).

and the model's FLOPs per window (``FlopCounterMode``: forward, and forward + backward; 2 FLOPs per
multiply-add, the MACs papers quote are half) with the achieved TFLOP/s of (a) and (b). The bare step is timed
just before and just after the loop, in the same process on the same compiled model, so
``train()/bare step`` is a side-by-side ratio (target: at least 0.9).

    python -m bench.bench_training                  # CUDA: paper presets and batches; CPU: tiny (demo presets)
    python -m bench.bench_training --tiny --steps 1 --warmup 1 --models strided  # the CI test's run
    python -m bench.bench_training --reference-dir ../released-code --fetch-reference
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.bench_loader import synthetic_store
from datasets.config import load_config
from datasets.windows import append_flipped, make_window_loader
from lifting.training import TrainingConfig, read_metrics
from lifting.training.distributed import setup_distributed, teardown_distributed
from lifting.training.loop import _TrainingRun
from lifting.training.model_interface import forward_windows
from lifting.training.records import RunRecords
from lifting.training.runtime import numerics
from lifting.training.state import ModelSpec
from lifting.training.step import train_step


@dataclasses.dataclass(frozen=True)
class Case:
    """One measured configuration: registry model, model preset, training preset, windows per step."""

    model: str
    preset: str
    training_preset: str
    batch: int


PAPER_CASES = (
    Case("uplift-upsample", "h36m-351", "uplift-upsample-h36m-351", 512),
    Case("mixste", "h36m-243", "mixste-h36m-243", 4),
    Case("mixste", "h36m-243", "mixste-h36m-243", 32),
    Case("strided", "h36m-351", "strided-h36m-351", 256),
)
"""The table of docs/performance.md: each paper's preset at its batch (MixSTE: the released 4 clips, and 32)."""
TINY_CASES = tuple(Case(case.model, "demo", case.training_preset, 4) for case in PAPER_CASES if case.batch != 32)
"""The CI size: the same models and training presets with the demo model presets, batch 4."""

REFERENCE_REPOSITORIES = {
    "mixste": ("MixSTE", "https://github.com/JinluZhang1126/MixSTE"),
    "strided": ("StridedTransformer-Pose3D", "https://github.com/Vegetebird/StridedTransformer-Pose3D"),
}
"""Released PyTorch code: clone folder under ``--reference-dir`` and where it comes from."""
RELEASED_MIXSTE_ARGUMENTS = {
    "num_joints": 17, "in_chans": 2, "embed_dim_ratio": 512, "depth": 8, "num_heads": 8, "mlp_ratio": 2.0,
    "qkv_bias": True, "qk_scale": None, "drop_path_rate": 0.1,
}  # fmt: skip
"""``MixSTE2`` as the released run.py builds it for Human3.6M (our mixste/h36m-243 preset's values)."""
RELEASED_STRIDED_ARGUMENTS = {"layers": 3, "channel": 256, "d_hid": 512, "stride_num": [3, 9, 13], "n_joints": 17,
                              "out_joints": 17}  # fmt: skip
"""The released Strided Transformer's arguments for T = 351 (our strided/h36m-351 preset's values)."""


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def training_flops_per_window(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
    """(forward, forward + backward) FLOPs per window of ``model`` on ``batch`` (``FlopCounterMode``, eager)."""
    windows = batch["keypoints"].shape[0]
    with FlopCounterMode(display=False) as forward_counter:
        output = forward_windows(model, batch)
    with FlopCounterMode(display=False) as backward_counter:
        (output.sequence.float().sum() + output.centre.float().sum()).backward()
    model.zero_grad(set_to_none=True)
    forward = forward_counter.get_total_flops()
    return forward / windows, (forward + backward_counter.get_total_flops()) / windows


def _timed(function: Callable[[], object], steps: int, device: torch.device) -> float:
    """Seconds per call of ``function`` over ``steps`` calls, the device synchronised at both ends."""
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        function()
    _synchronize(device)
    return (time.perf_counter() - started) / steps


def _config(case: Case, steps: int, warmup: int, workers: int) -> TrainingConfig:
    """The training preset at the case's batch, stopping after the warm-up and timed groups of ``steps``."""
    config = load_config(TrainingConfig, "training", case.training_preset)
    total = steps * (warmup + 3)
    return dataclasses.replace(
        config, batch_size=case.batch, steps_per_epoch=total, max_steps=total, log_every_steps=steps,
        checkpoint_every_steps=None, progress_bar=False, num_workers=workers,
    )  # fmt: skip


def measure_ours(case: Case, store, device: str, steps: int, warmup: int, workers: int) -> dict[str, float]:
    """Bare-step and training-loop windows/s and FLOPs per window of one case (module docstring)."""
    config = _config(case, steps, warmup, workers)
    context = setup_distributed(device)
    try:
        with numerics(context.device, config), tempfile.TemporaryDirectory() as output:
            run = _TrainingRun.create(ModelSpec.resolve(case.model, case.preset), [store], None, config,
                                      Path(output), context)  # fmt: skip
            loader = make_window_loader(run.data.windows, run.data.sampler, 0, False)
            run.data.sampler.set_epoch(0)
            batch = {key: value.to(context.device) for key, value in next(iter(loader)).items()}
            if config.flip_augmentation:
                batch = append_flipped(batch, run.data.windows.flip_permutation)
            forward_flops, training_flops = training_flops_per_window(run.state.model, batch)
            network = run.network

            def bare() -> None:
                if network.cuda_graphs:
                    torch.compiler.cudagraph_mark_step_begin()
                train_step(network.module, batch, run.state.optimizer, network.loss_fn, bf16=run.bf16,
                           grad_clip_norm=config.grad_clip_norm, ema=run.state.ema)  # fmt: skip

            _timed(bare, steps * warmup, context.device)
            before = _timed(bare, steps, context.device)
            records = RunRecords(Path(output), True, None)
            try:
                run.run(records)
            finally:
                records.close()
            after = _timed(bare, steps, context.device)
            rates = [r["windows_per_s"] for r in read_metrics(Path(output)) if r["kind"] == "step"][::steps]
    finally:
        teardown_distributed(context)
    return {
        "bare": config.batch_size * 2 / (before + after),
        "loop": statistics.median(rates[warmup:]),
        "forward_flops": forward_flops,
        "training_flops": training_flops,
    }


def _reference_model(case: Case, directory: Path, frames: int) -> torch.nn.Module | str:
    """The released model for ``case`` at the preset's size, or why it is not available."""
    if case.model not in REFERENCE_REPOSITORIES:
        return "released code is TensorFlow (no PyTorch step to compare)"
    folder = directory / REFERENCE_REPOSITORIES[case.model][0]
    if not folder.is_dir():
        return f"released code not found at {folder} (--fetch-reference clones it)"
    sys.path.insert(0, str(folder))
    try:
        for name in [name for name in sys.modules if name.split(".")[0] in ("common", "model")]:
            del sys.modules[name]  # both repositories have top-level "common"/"model" packages
        if case.model == "mixste":
            module = importlib.import_module("common.model_cross")
            return module.MixSTE2(num_frame=frames, **RELEASED_MIXSTE_ARGUMENTS)
        module = importlib.import_module("model.strided_transformer")
        return module.Model(SimpleNamespace(frames=frames, **RELEASED_STRIDED_ARGUMENTS))
    except Exception as error:  # noqa: BLE001 - any import or build failure of foreign code means "skip"
        return f"released code at {folder} did not load: {error!r}"
    finally:
        sys.path.remove(str(folder))


def measure_reference(case: Case, directory: Path, device: torch.device, steps: int, warmup: int) -> float | str:
    """Windows/s of the released model's bf16 AdamW step with a plain MPJPE, or why it was skipped."""
    if case.preset == "demo":
        return "tiny run: the released models have no demo size"
    frames = int(case.preset.split("-")[-1])
    model = _reference_model(case, directory, frames)
    if isinstance(model, str):
        return model
    model = model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-5)  # the released scripts' (unfused) AdamW
    keypoints = torch.randn(case.batch, frames, 17, 2, device=device)
    target = torch.randn(case.batch, frames, 17, 3, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            output = model(keypoints)
        output = output[1] if isinstance(output, tuple) else output  # Strided: the full-sequence output
        (output.float() - target).norm(dim=-1).mean().backward()
        optimizer.step()

    _timed(step, steps * warmup, device)
    return case.batch / _timed(step, steps, device)


def fetch_reference(directory: Path) -> None:
    """Clone the released repositories into ``directory`` (scratch; never into the project)."""
    directory.mkdir(parents=True, exist_ok=True)
    for folder, url in REFERENCE_REPOSITORIES.values():
        if not (directory / folder).is_dir():
            result = subprocess.run(["git", "clone", "--depth", "1", url, str(directory / folder)], check=False)
            if result.returncode:
                print(f"could not clone {url} (exit {result.returncode}); its comparison will be skipped")


def main(argv: list[str] | None = None) -> None:
    """Measure every case and print the table and the ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--tiny", action="store_true", help="demo presets at batch 4 (default on CPU)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed group (default 20, tiny 2)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed groups first (compilation, allocator)")
    parser.add_argument("--workers", type=int, default=None, help="loader workers of the loop (default 8, tiny 0)")
    parser.add_argument("--views", type=int, default=None, help="synthetic store views (default 48, tiny 4)")
    parser.add_argument("--models", nargs="+", default=None, help="only these registry models")
    parser.add_argument("--reference-dir", type=Path, default=Path(tempfile.gettempdir()) / "mocaplift-reference")
    parser.add_argument("--fetch-reference", action="store_true", help="git clone the released code first")
    arguments = parser.parse_args(argv)
    cuda = arguments.device.startswith("cuda") or (arguments.device == "auto" and torch.cuda.is_available())
    device = torch.device(("cuda" if cuda else "cpu") if arguments.device == "auto" else arguments.device)
    tiny = arguments.tiny or not cuda
    steps = arguments.steps or (2 if tiny else 20)
    workers = arguments.workers if arguments.workers is not None else (0 if tiny else 8)
    views = arguments.views or (4 if tiny else 48)
    if arguments.fetch_reference:
        fetch_reference(arguments.reference_dir)
    cases = [case for case in (TINY_CASES if tiny else PAPER_CASES) if case.model in (arguments.models or [case.model])]
    where = torch.cuda.get_device_name() if cuda else "CPU"
    print(f"training bench on {where}: {'tiny (demo presets)' if tiny else 'paper presets'}, groups of {steps} steps")
    header = (f"{'model':<16} {'preset':<9} {'batch':>5} {'GFLOP/win fwd':>13} {'fwd+bwd':>9} "
              f"{'bare win/s':>11} {'train() win/s':>13} {'TFLOP/s':>8}")  # fmt: skip
    lines, ratios = [header, "-" * len(header)], []
    with tempfile.TemporaryDirectory() as directory:
        store = synthetic_store(Path(directory) / "store", views, 400 if tiny else 6000)
        for case in cases:
            ours = measure_ours(case, store, arguments.device, steps, arguments.warmup, workers)
            achieved = ours["training_flops"] * ours["loop"] / 1e12
            lines.append(
                f"{case.model:<16} {case.preset:<9} {case.batch:>5} {ours['forward_flops'] / 1e9:>13.6g} "
                f"{ours['training_flops'] / 1e9:>9.6g} {ours['bare']:>11.5g} {ours['loop']:>13.5g} {achieved:>8.3g}"
            )
            label = f"{case.model} {case.preset} batch {case.batch}"
            ratios.append(f"ratio train()/bare step, {label}: {ours['loop'] / ours['bare']:.2f}x")
            ratios.append(f"FLOPs per window, {label}: forward {ours['forward_flops']:.6g}, "
                          f"forward+backward {ours['training_flops']:.6g} (MACs: half)")  # fmt: skip
            reference = measure_reference(case, arguments.reference_dir, device, steps, arguments.warmup)
            if isinstance(reference, str):
                ratios.append(f"ratio ours/released step, {label}: skipped ({reference})")
            else:
                ratios.append(f"ratio ours/released step, {label}: {ours['bare'] / reference:.2f}x "
                              f"({reference:.5g} windows/s released, plain MPJPE)")  # fmt: skip
    print("\n".join(lines + [""] + ratios))


if __name__ == "__main__":
    main()
