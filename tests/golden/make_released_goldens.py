"""Write ``tests/golden/released_*.npz``: outputs of the authors' released models and loss for fixed random weights.

Run once, outside the test suite, against checkouts of the released repositories (nothing of theirs is copied
here; their code is imported, or for MixSTE's loss, which lives inline in ``run.py``, read and executed, from the
paths given)::

    python tests/golden/make_released_goldens.py \\
        --strided ../released/StridedTransformer-Pose3D --mixste ../released/MixSTE --out tests/golden

MixSTE's ``common/model_cross.py`` imports ``einops``, ``timm`` and ``local_attention``; the fixtures were made
with einops 0.8.2 and small stand-ins for the three ``timm`` helpers it uses at evaluation (``DropPath`` as the
identity, ``trunc_normal_`` as torch's, ``to_2tuple``) and for ``local_attention`` (unused by ``MixSTE2``),
because timm needs torchvision, which has no build for this torch. Everything runs in float64 on the CPU, in
evaluation mode; every parameter and buffer is overwritten by draws from ``torch.Generator`` seeds 0 (Strided), 1
(MixSTE) and 2 (loss inputs). ``--check-full`` additionally builds the released 351-frame Strided Transformer,
maps its weights into ours and prints the largest output difference (not saved: the weights are 35 MB).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lifting.released.torch_layouts import mixste_from_released, strided_from_released  # noqa: E402

STRIDED_SMALL = {"frames": 27, "stride_num": [3, 3, 3], "channel": 16, "d_hid": 32, "layers": 2}
"""Reduced Strided Transformer: every code path of the N = 351 model (3 strided layers), 16 wide, 27 frames."""

STRIDED_FULL = {"frames": 351, "stride_num": [3, 9, 13], "channel": 256, "d_hid": 512, "layers": 3}
"""The released N = 351 model (docs/references.md)."""

MIXSTE_SMALL = {"num_frame": 9, "embed_dim_ratio": 16, "depth": 2, "num_heads": 4, "mlp_ratio": 2.0}
"""Reduced MixSTE2: the full model's code paths (a first and a later spatial-temporal loop), 16 wide, 9 frames."""

BATCH = 2
JOINTS = 17


def randomise(module: torch.nn.Module, generator: torch.Generator, float32_values: bool = True) -> None:
    """Overwrite floating parameters and buffers: N(0, 0.3); norm gains 1 + N(0, 0.1); variances U(0.5, 1.5).

    With ``float32_values`` the values are rounded to float32 (and kept in float64) so the fixtures store them
    in half the bytes, exactly; ``make_released_checkpoints.py`` keeps the draws as they are (its fixtures are
    the released files themselves).
    """
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point():
                continue
            draw = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
            if name.endswith("running_var"):
                draw = 0.5 + torch.rand(tensor.shape, generator=generator, dtype=tensor.dtype)
            elif name.endswith("a_2") or (name.endswith("weight") and tensor.ndim == 1):  # norm gains
                draw = 1.0 + 0.1 * draw
            else:
                draw = 0.3 * draw
            tensor.copy_(draw.float() if float32_values else draw)


def random_input(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard-normal float64 draws rounded to float32 values (stored exactly as float32)."""
    return torch.randn(shape, generator=generator, dtype=torch.float64).float().double()


def state_arrays(module: torch.nn.Module) -> dict[str, np.ndarray]:
    """Every parameter and buffer keyed by the released name; floats as float32 (exact, see ``randomise``)."""
    state = module.state_dict().items()
    return {name: value.float().numpy() if value.is_floating_point() else value.numpy() for name, value in state}


def released_strided(repo: Path, sizes: dict, seed: int) -> tuple[torch.nn.Module, torch.Tensor, tuple]:
    """The released ``Model`` with random weights, a random input and its (centre, sequence) outputs."""
    sys.path.insert(0, str(repo))
    from model.strided_transformer import Model

    args = SimpleNamespace(n_joints=JOINTS, out_joints=JOINTS, **sizes)
    model = Model(args).double().eval()
    generator = torch.Generator().manual_seed(seed)
    randomise(model, generator)
    keypoints = random_input((BATCH, sizes["frames"], JOINTS, 2), generator)
    with torch.no_grad():
        centre, sequence = model(keypoints.clone())
    return model, keypoints, (centre[:, 0], sequence)


def ours_strided(sizes: dict, released: torch.nn.Module) -> torch.nn.Module:
    """Our ``StridedTransformer`` of the same sizes, with the released weights mapped in."""
    from lifting.models.strided import StridedTransformer, StridedTransformerConfig

    config = StridedTransformerConfig(
        frames=sizes["frames"],
        strides=tuple(sizes["stride_num"]),
        dim=sizes["channel"],
        ffn_dim=sizes["d_hid"],
        vanilla_depth=sizes["layers"],
    )
    ours = StridedTransformer(config).double().eval()
    mapped = {k: torch.from_numpy(v) for k, v in strided_from_released(state_arrays(released)).items()}
    mapped = {k: v.double() if v.is_floating_point() else v for k, v in mapped.items()}
    ours.load_state_dict(mapped, strict=True)
    return ours


def strided_goldens(repo: Path) -> dict[str, np.ndarray]:
    """Fixture arrays of the reduced Strided Transformer (``param/<released name>``, inputs, outputs)."""
    model, keypoints, (centre, sequence) = released_strided(repo, STRIDED_SMALL, seed=0)
    arrays = {f"param/{k}": v for k, v in state_arrays(model).items()}
    ours = ours_strided(STRIDED_SMALL, model)  # strict load: the mapping covers every tensor both ways
    with torch.no_grad():
        output = ours(keypoints)
    print(
        "strided small: max |released - ours| =",
        float((output.centre - centre).abs().max()),
        float((output.sequence - sequence).abs().max()),
    )
    return arrays | {"keypoints": keypoints.float().numpy(), "centre": centre.numpy(), "sequence": sequence.numpy()}


def mixste_goldens(repo: Path) -> dict[str, np.ndarray]:
    """Fixture arrays of the reduced released ``MixSTE2``."""
    sys.path.insert(0, str(repo))
    from common.model_cross import MixSTE2

    model = MixSTE2(num_joints=JOINTS, in_chans=2, drop_path_rate=0.0, **MIXSTE_SMALL).double().eval()
    generator = torch.Generator().manual_seed(1)
    randomise(model, generator)
    keypoints = random_input((BATCH, MIXSTE_SMALL["num_frame"], JOINTS, 2), generator)
    with torch.no_grad():
        sequence = model(keypoints.clone())
    mixste_from_released(state_arrays(model))  # fails here, not in the test, if a name is unknown
    arrays = {f"param/{k}": v for k, v in state_arrays(model).items()}
    return arrays | {"keypoints": keypoints.float().numpy(), "sequence": sequence.numpy()}


def _run_py_block(run_py: str, first: str, last: str) -> str:
    """The released ``run.py`` lines from the one starting with ``first`` to the one starting with ``last``."""
    lines = run_py.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(first))
    stop = next(i for i in range(start, len(lines)) if lines[i].strip().startswith(last))
    return textwrap.dedent("\n".join(lines[start : stop + 1])).replace(".cuda()", "")


def mixste_loss_goldens(repo: Path) -> dict[str, np.ndarray]:
    """Released MixSTE training loss on random poses: its TCLoss (``dif_seq``) and total, with its joint weights."""
    sys.path.insert(0, str(repo))
    from common.loss import mean_velocity_error_train, weighted_mpjpe

    run_py = (repo / "run.py").read_text()
    generator = torch.Generator().manual_seed(2)
    predicted = torch.randn((3, 7, JOINTS, 3), generator=generator, dtype=torch.float64)
    target = torch.randn((3, 7, JOINTS, 3), generator=generator, dtype=torch.float64)
    scope = {
        "torch": torch,
        "weighted_mpjpe": weighted_mpjpe,
        "mean_velocity_error_train": mean_velocity_error_train,
        "predicted_3d_pos": predicted,
        "inputs_3d": target,
    }
    exec(_run_py_block(run_py, "w_mpjpe = torch.tensor([1, 1, 2.5, 2.5, 1, 2.5, 2.5, 1, 1, 1,", "w_mpjpe"), scope)
    exec(_run_py_block(run_py, "loss_3d_pos = weighted_mpjpe(", "loss_total = loss_3d_pos + loss_diff"), scope)
    weights = scope["w_mpjpe"].double().numpy()
    return {
        "predicted": predicted.numpy(),
        "target": target.numpy(),
        "joint_weights": weights,
        "tcloss": scope["dif_seq"].numpy(),
        "total": scope["loss_total"].numpy(),
    }


def main() -> None:
    """Parse the paths, write the three fixtures, optionally check the full-size Strided Transformer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strided", type=Path, required=True, help="checkout of Vegetebird/StridedTransformer-Pose3D")
    parser.add_argument("--mixste", type=Path, required=True, help="checkout of JinluZhang1126/MixSTE")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .npz fixtures")
    parser.add_argument("--check-full", action="store_true", help="compare the released N=351 model with ours")
    options = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    np.savez_compressed(options.out / "released_strided.npz", **strided_goldens(options.strided))
    np.savez_compressed(options.out / "released_mixste.npz", **mixste_goldens(options.mixste))
    np.savez_compressed(options.out / "released_mixste_loss.npz", **mixste_loss_goldens(options.mixste))
    if options.check_full:
        model, keypoints, (centre, sequence) = released_strided(options.strided, STRIDED_FULL, seed=3)
        with torch.no_grad():
            output = ours_strided(STRIDED_FULL, model)(keypoints)
        print(
            "strided N=351: max |released - ours| centre",
            float((output.centre - centre).abs().max()),
            "sequence",
            float((output.sequence - sequence).abs().max()),
        )


if __name__ == "__main__":
    main()
