"""Forward throughput of each uplifting model with SDPA attention against the same model with einsum attention.

Both variants share one set of weights (``set_attention_backend`` switches the attention implementation
only) and run alternately in this process through ``bench.harness.compare``, so the printed speed-ups are
ratios measured side by side. Throughput is in 3D poses per second: batch size x the output poses one
forward pass yields at inference (MixSTE: every frame of the window; Strided Transformer: the centre;
Uplift-and-Upsample: the centre, standing for ``s_out`` frames). Inference mode, evaluation mode, float32.

    python -m bench.bench_models                                   # default presets, CPU, batch 8
    python -m bench.bench_models --model mixste --preset h36m-243 --rounds 3
    python -m bench.bench_models --device cuda --autocast-bf16     # on a GPU: flash / memory-efficient kernels

The default presets are the papers' configurations that run in seconds on a CPU; MixSTE at T = 243 takes
tens of seconds per forward pass at batch 8 there, so ask for it explicitly.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Sequence

import torch

from bench.harness import Comparison, compare, report
from lifting.models import build_model, set_attention_backend

DEFAULT_CASES: tuple[tuple[str, str], ...] = (
    ("uplift-upsample", "h36m-351"),
    ("uplift-upsample", "h36m-81"),
    ("strided", "h36m-351"),
    ("strided", "h36m-27-sparse"),
    ("mixste", "3dhp-27"),
    ("mixste-tmt", "3dhp-27"),
)
"""(model, preset) pairs benchmarked when none is given: paper configurations that are quick on a CPU."""


def _forward(
    model: torch.nn.Module, inputs: dict[str, torch.Tensor], backend: str, device: torch.device, autocast_bf16: bool
) -> Callable[[], None]:
    """One forward pass with the given attention backend (the weights are shared between backends)."""

    def run() -> None:
        set_attention_backend(model, backend)
        precision = torch.autocast(device.type, dtype=torch.bfloat16) if autocast_bf16 else contextlib.nullcontext()
        with torch.inference_mode(), precision:
            model(**inputs)

    return run


def benchmark_case(
    model_name: str,
    preset: str,
    batch_size: int,
    rounds: int,
    device: torch.device,
    autocast_bf16: bool = False,
    seed: int = 0,
) -> Comparison:
    """Compare SDPA with einsum attention for one preset, side by side.

    Args:
        model_name: Registry name.
        preset: Preset name.
        batch_size: Windows per forward pass.
        rounds: Measured rounds (each times einsum then SDPA).
        device: Where to run.
        autocast_bf16: Run under bf16 autocast.
        seed: Seed of the generator for weights and inputs.

    Returns:
        The comparison (workload: SDPA; baseline: einsum).
    """
    torch.manual_seed(seed)  # a script, not library code: seeding the global generator here is fine
    model = build_model(model_name, preset).eval().to(device)
    inputs = model.example_inputs(batch_size=batch_size, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    inputs["keypoints"] = torch.rand(inputs["keypoints"].shape, generator=generator, device=device) * 2 - 1
    synchronize = torch.cuda.synchronize if device.type == "cuda" else None
    label = f"{model_name} {preset} (SDPA)"
    return compare(
        label,
        _forward(model, inputs, "sdpa", device, autocast_bf16),
        "same model, einsum attention",
        _forward(model, inputs, "einsum", device, autocast_bf16),
        unit="poses",
        units_per_call=batch_size * model.output_frames_per_forward(),
        rounds=rounds,
        warmup=1,
        synchronize=synchronize,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, run the comparisons and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="registry name; with --preset, benchmark only this case")
    parser.add_argument("--preset", default="demo", help="preset of --model (default: demo)")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default: 8)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per case (default: 5)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--autocast-bf16", action="store_true", help="run both variants under bf16 autocast")
    arguments = parser.parse_args(argv)
    cases = [(arguments.model, arguments.preset)] if arguments.model else list(DEFAULT_CASES)
    device = torch.device(arguments.device)
    comparisons = []
    for model_name, preset in cases:
        comparison = benchmark_case(
            model_name, preset, arguments.batch_size, arguments.rounds, device, arguments.autocast_bf16
        )
        print(comparison.row(), flush=True)
        comparisons.append(comparison)
    precision = "bf16 autocast" if arguments.autocast_bf16 else "float32"
    title = (
        f"\nForward throughput, SDPA vs einsum-softmax attention, same weights, side by side "
        f"({device}, batch {arguments.batch_size}, {precision}, {torch.get_num_threads()} threads)"
    )
    print(report(title, comparisons))


if __name__ == "__main__":
    main()
