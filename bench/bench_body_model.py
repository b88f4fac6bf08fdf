"""Regressed-joint throughput: the folded fast path against the full mesh, side by side.

Both paths compute the same 17 regressed joints for the same frames, batch size, device and dtype:
the baseline poses every vertex with ``smplx.lbs.lbs`` and applies the 17 x V regressor (what AMASS
converters do), the workload evaluates ``datasets.amass.fast_joints.folded_joints`` (regressor folded into
blend shapes and skinning). The body model is the synthetic SMPL+H at ``--detail 4`` (6652 vertices, close
to SMPL's 6890) with its synthetic H36M regressor; poses come from the real AMASS sample when it is present,
else from the procedural walk. Runs alternate through ``bench.harness.compare``; the target is >= 50x.
Both paths use ``--threads`` CPU threads (default 1: on a shared 2-core machine, two threads spend most of
the fast path's many small operations waiting for a core another process holds; one thread per process is
also how Dask workers should run it).

    python -m bench.bench_body_model                       # CPU, batch 1024
    python -m bench.bench_body_model --batch 256 --rounds 7
    python -m bench.bench_body_model --device cuda         # on a GPU
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.harness import compare, report
from datasets.amass.body_model import BodyModel
from datasets.amass.fast_joints import fold_joint_model, folded_joints, full_mesh_joints
from datasets.amass.mesh import mesh_tensors
from datasets.synthetic.amass_motion import generate_motion
from datasets.synthetic.body_model import h36m_regressor, smplh_model_arrays

AMASS_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/amass_sample.npz"


def synthetic_model(detail: int) -> tuple[BodyModel, np.ndarray]:
    """The synthetic neutral SMPL+H model at ``detail`` and its standard-order H36M regressor."""
    arrays = smplh_model_arrays("neutral", detail)
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1
    vertices = len(arrays["v_template"])
    model = BodyModel(
        model_type="smplh", v_template=arrays["v_template"], shapedirs=arrays["shapedirs"],
        dmpldirs=np.zeros((vertices, 3, 0)), posedirs=arrays["posedirs"], j_regressor=arrays["J_regressor"],
        parents=parents, weights=arrays["weights"], faces=arrays["f"].astype(np.int64),
    )  # fmt: skip
    return model, h36m_regressor("h36m", detail)


def benchmark_poses(frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(poses (T, 156), trans (T, 3), betas (16,)): the real sample, tiled, if present, else a synthetic walk."""
    if AMASS_SAMPLE.is_file():
        with np.load(AMASS_SAMPLE) as sample:
            poses, trans, betas = sample["poses"], sample["trans"], sample["betas"]
    else:
        motion = generate_motion("walk", 500, 120.0, np.zeros(3), 0.95, np.random.default_rng(0))
        poses, trans, betas = motion.poses, motion.trans, np.zeros(16)
    repeats = -(-frames // len(poses))
    return np.tile(poses, (repeats, 1))[:frames], np.tile(trans, (repeats, 1))[:frames], betas


def main() -> None:
    """Parse arguments, run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=1024, help="frames per call (both paths)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--detail", type=int, default=4, help="synthetic mesh resolution (4: 6652 vertices)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both paths")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    device, dtype = torch.device(arguments.device), getattr(torch, arguments.dtype)
    model, regressor = synthetic_model(arguments.detail)
    folded = fold_joint_model(model, regressor=regressor, device=device, dtype=dtype)
    mesh = mesh_tensors(model, device, dtype)
    regressor_tensor = torch.as_tensor(regressor, dtype=dtype, device=device)
    poses, trans, betas = (
        torch.as_tensor(array, dtype=dtype, device=device) for array in benchmark_poses(arguments.batch)
    )
    synchronize = torch.cuda.synchronize if device.type == "cuda" else None

    def fast() -> torch.Tensor:
        with torch.inference_mode():
            return folded_joints(folded, poses, betas, trans)

    def full() -> torch.Tensor:
        with torch.inference_mode():
            return full_mesh_joints(mesh, poses, betas, trans, regressor=regressor_tensor)

    difference = float((fast() - full()).abs().max())
    comparison = compare(
        "folded regressor (fast path)", fast, "full mesh + regressor", full, unit="frames",
        units_per_call=arguments.batch, rounds=arguments.rounds, synchronize=synchronize,
    )  # fmt: skip
    title = (
        f"17 regressed joints, {model.num_vertices} vertices, {folded.num_pairs} (joint, bone) pairs, "
        f"batch {arguments.batch}, {device}, {arguments.dtype}, threads {torch.get_num_threads()}; "
        f"max |fast - full| = {difference:.2e} m"
    )
    print(report(title, [comparison]))
    print(f"speed ratio (fast / full frames per second): {comparison.speedup:.1f}x (target >= 50x)")


if __name__ == "__main__":
    main()
