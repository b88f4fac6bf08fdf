"""Released weights imported as checkpoints reproduce the released models' outputs; unsafe or wrong files are refused.

The fixtures ``tests/golden/released_checkpoint_*`` (weights files gzipped) were written once by
``tests/golden/make_released_checkpoints.py`` (its docstring gives the commands) with the authors' own code: a
reduced Uplift-and-Upsample Keras model saved with ``save_weights(".h5")`` (9 tokens at s_out 5, widths 8 / 16, 2
heads, strides [3, 3]), a reduced ``MixSTE2`` saved in the dict its ``run.py`` writes (9 frames, width 8, depth 2,
2 heads), and a reduced Strided Transformer ``Model`` saved as its ``no_refine_*.pth`` (27 frames, strides
[3, 3, 3], width 8, FFN 16, 1 vanilla layer), every weight random, each run in float32 on a random input whose
outputs are stored beside it. Their sizes are stored in the outputs files (``sizes/<released name>``); the presets
below are written from them, in our field names.

Float32 through different kernels (TensorFlow's, or the same torch ops in another order) agrees to rounding:
``max |ours - released| <= 1e-5 * max |released|`` (the outputs reach about 20).
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml

from datasets.safe_npz import UnsafePickleError
from lifting.released import import_released
from lifting.training.checkpoint import load_model

GOLDEN = Path(__file__).parent / "golden"
RELATIVE = 1e-5


def released_file(name: str, directory: Path) -> Path:
    """The released file ``name`` unpacked from ``tests/golden/<name>.gz`` into ``directory``."""
    path = directory / name
    path.write_bytes(gzip.decompress((GOLDEN / f"{name}.gz").read_bytes()))
    return path


def _outputs(name: str) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """A fixture's arrays and its released sizes (``sizes/`` prefix removed)."""
    with np.load(GOLDEN / f"released_checkpoint_{name}_outputs.npz") as data:
        sizes = {k.removeprefix("sizes/"): data[k].tolist() for k in data.files if k.startswith("sizes/")}
        return {k: data[k] for k in data.files if not k.startswith("sizes/")}, sizes


def _preset(directory: Path, name: str, values: dict) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def uplift_upsample_preset(directory: Path) -> Path:
    """Our config of the reduced released model: N = (9 - 1) * 5 + 1 = 41 frames; one head count for all stages."""
    sizes = _outputs("uplift_upsample")[1]
    return _preset(directory, "uplift", {
        "receptive_field": (sizes["SEQUENCE_LENGTH"] - 1) * sizes["SEQUENCE_STRIDE"] + 1,
        "output_stride": sizes["SEQUENCE_STRIDE"], "input_strides": [5, 10],
        "joint_dim": sizes["SPATIAL_EMBED_DIM"], "joint_depth": sizes["SPATIAL_TRANSFORMER_BLOCKS"],
        "joint_heads": sizes["NUM_HEADS"], "temporal_dim": sizes["TEMPORAL_EMBED_DIM"],
        "temporal_depth": sizes["TEMPORAL_TRANSFORMER_BLOCKS"], "temporal_heads": sizes["NUM_HEADS"],
        "mlp_ratio": float(sizes["MLP_RATIO"]), "strides": sizes["STRIDES"], "paddings": sizes["PADDINGS"],
    })  # fmt: skip


def mixste_preset(directory: Path) -> Path:
    sizes = _outputs("mixste")[1]
    return _preset(directory, "mixste", {
        "max_frames": sizes["num_frame"], "dim": sizes["embed_dim_ratio"], "depth": sizes["depth"],
        "num_heads": sizes["num_heads"], "mlp_ratio": sizes["mlp_ratio"],
    })  # fmt: skip


def strided_preset(directory: Path) -> Path:
    sizes = _outputs("strided")[1]
    return _preset(directory, "strided", {
        "frames": sizes["frames"], "strides": sizes["stride_num"], "dim": sizes["channel"],
        "ffn_dim": sizes["d_hid"], "vanilla_depth": sizes["layers"],
    })  # fmt: skip


def _assert_close(ours: torch.Tensor, released: np.ndarray) -> None:
    scale = float(np.abs(released).max())
    assert scale > 0.1  # not a comparison of near-zero outputs
    assert float(np.abs(ours.numpy() - released).max()) <= RELATIVE * scale


def test_uplift_upsample_h5_reproduces_the_released_keras_model(tmp_path):
    """Both outputs of the released Keras model (sequence (2, 9, 17, 3), centre (2, 17, 3)) on its key-frame mask."""
    arrays, _ = _outputs("uplift_upsample")
    path = released_file("released_checkpoint_uplift_upsample.h5", tmp_path)
    imported = import_released(path, "uplift-upsample", str(uplift_upsample_preset(tmp_path)), "demo")
    model, info = load_model(imported.checkpoint)
    with torch.no_grad():
        output = model(torch.from_numpy(arrays["keypoints"]), key_frame_mask=torch.from_numpy(arrays["key_frame_mask"]))
    _assert_close(output.sequence, arrays["sequence"])
    _assert_close(output.centre, arrays["centre"])
    assert info.model_name == "uplift-upsample" and info.model_config.temporal_dim == 16


def test_mixste_bin_reproduces_the_released_model(tmp_path):
    """The released dict's ``model_pos`` (``module.`` keys) gives the released (2, 9, 17, 3) output."""
    arrays, _ = _outputs("mixste")
    imported = import_released(
        released_file("released_checkpoint_mixste.bin", tmp_path), "mixste", str(mixste_preset(tmp_path)), "demo"
    )
    model, _ = load_model(imported.checkpoint)
    with torch.no_grad():
        output = model(torch.from_numpy(arrays["keypoints"]))
    _assert_close(output.sequence, arrays["sequence"])


@pytest.mark.parametrize("variant", ["as released", "module prefix and refine keys"])
def test_strided_pth_reproduces_the_released_model(tmp_path, variant):
    """The ``no_refine`` state dict as released, and re-saved the way a DataParallel run with the refinement module
    in the same dict would save it: both give the released centre (2, 17, 3) and sequence (2, 27, 17, 3)."""
    arrays, _ = _outputs("strided")
    path = released_file("released_checkpoint_strided.pth", tmp_path)
    if variant != "as released":
        state = torch.load(path, weights_only=True)
        state = {f"module.{key}": value for key, value in state.items()}
        state |= {"module.post_refine.0.weight": torch.zeros(4, 102), "module.post_refine.0.bias": torch.zeros(4)}
        path = tmp_path / "combined.pth"
        torch.save(state, path)
    imported = import_released(path, "strided", str(strided_preset(tmp_path)), "demo")
    model, _ = load_model(imported.checkpoint)
    with torch.no_grad():
        output = model(torch.from_numpy(arrays["keypoints"]))
    _assert_close(output.centre, arrays["centre"])
    _assert_close(output.sequence, arrays["sequence"])
    expected_left_out = () if variant == "as released" else ("post_refine.0.bias", "post_refine.0.weight")
    assert imported.left_out == expected_left_out


def test_a_refine_only_file_is_refused_naming_the_file_to_import(tmp_path):
    path = tmp_path / "refine_4_4450.pth"
    torch.save({"post_refine.0.weight": torch.zeros(4, 102), "post_refine.0.bias": torch.zeros(4)}, path)
    with pytest.raises(ValueError, match=r"refine_4_4450\.pth holds only .*refinement module.*no_refine_\*\.pth"):
        import_released(path, "strided", str(strided_preset(tmp_path)), "demo")


class _CreatesMarker:
    """Unpickling this runs ``os.system("touch <marker>")`` under a plain ``pickle.load``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize(("model", "name", "legacy"), [("mixste", "epoch_80.bin", False),
                                                      ("strided", "no_refine_4_4450.pth", True)])  # fmt: skip
def test_a_pickled_payload_runs_no_code_and_is_named(tmp_path, model, name, legacy):
    """A .bin in the released dict layout and a .pth in the legacy (non-zip) format each carry an object whose
    ``__reduce__`` would create a marker file: import refuses both, names the file and the call, runs nothing."""
    marker = tmp_path / "marker"
    path = tmp_path / name
    payload = {"model_pos": {"module.x": torch.zeros(1)}, "epoch": _CreatesMarker(marker)}
    if legacy:
        with path.open("wb") as handle:
            pickle.dump({"x": torch.zeros(1), "y": _CreatesMarker(marker)}, handle, protocol=2)
    else:
        torch.save(payload, path)
    preset = mixste_preset(tmp_path) if model == "mixste" else strided_preset(tmp_path)
    with pytest.raises(UnsafePickleError, match=rf"{name} refused: its pickle asks for (posix|nt)\.system"):
        import_released(path, model, str(preset), "demo")
    assert not marker.exists()


def test_a_file_of_another_size_names_the_first_differing_keys(tmp_path):
    """The reduced MixSTE (width 8) against a width-16 preset: the error names keys with both shapes, on one line."""
    preset = _preset(tmp_path, "wide", {"max_frames": 9, "dim": 16, "depth": 2, "num_heads": 2})
    with pytest.raises(ValueError) as raised:
        import_released(released_file("released_checkpoint_mixste.bin", tmp_path), "mixste", str(preset), "demo")
    message = str(raised.value)
    assert "\n" not in message and "released_checkpoint_mixste.bin does not fit mixste" in message
    assert "file (8,), model (16,)" in message and "more" in message


def test_a_file_of_another_model_is_refused(tmp_path):
    """A Strided state dict imported as MixSTE: it has no ``model_pos``."""
    with pytest.raises(ValueError, match=r"not a released MixSTE checkpoint: it has no 'model_pos'"):
        import_released(
            released_file("released_checkpoint_strided.pth", tmp_path), "mixste", str(mixste_preset(tmp_path)), "demo"
        )


@pytest.mark.parametrize(
    ("source", "model", "message"),
    [("released_checkpoint_uplift_upsample.h5", "mixste", r"is not a PyTorch weights file \(not a pickle"),
     ("released_checkpoint_mixste.bin", "uplift-upsample", r"is not a readable HDF5 file")],
)  # fmt: skip
def test_a_file_of_another_format_is_one_error_naming_it(tmp_path, source, model, message):
    preset = mixste_preset(tmp_path) if model == "mixste" else uplift_upsample_preset(tmp_path)
    with pytest.raises(ValueError, match=rf"{source} {message}"):
        import_released(released_file(source, tmp_path), model, str(preset), "demo")


def test_an_h5_without_a_layer_names_the_missing_keys(tmp_path):
    """The released file without its ``temporal_fc`` layer (the sequence head): both head tensors are missing."""
    truncated = tmp_path / "truncated.h5"
    with (
        h5py.File(released_file("released_checkpoint_uplift_upsample.h5", tmp_path)) as source,
        h5py.File(truncated, "w") as out,
    ):
        names = [name.decode() if isinstance(name, bytes) else name for name in source.attrs["layer_names"]]
        kept = [name for name in names if name != "temporal_fc"]
        out.attrs["layer_names"] = np.array([name.encode() for name in kept])
        for name in kept:
            source.copy(source[name], out, name=name)
    with pytest.raises(ValueError, match=r"does not fit uplift-upsample .*sequence_head.bias missing from the file"):
        import_released(truncated, "uplift-upsample", str(uplift_upsample_preset(tmp_path)), "demo")
