"""Write ``tests/golden/released_checkpoint_*``: small random models saved by the authors' code in their formats.

Each model is built with the authors' released code at a reduced size, every weight overwritten by seeded
random draws, saved the way their training scripts save it, and run on a fixed random input; the file and the
outputs are the fixtures of ``tests/test_import_checkpoint.py``. Nothing of theirs is copied here: their code is
imported from checkouts (``git archive`` of the mirrored repositories) given on the command line.

Uplift-and-Upsample (goldbricklemon/uplift-upsample-3dhpe, TensorFlow) runs in its own scratch environment::

    python -m venv ../released/tfenv
    ../released/tfenv/bin/pip install tensorflow-cpu==2.21.0 tf_keras==2.21.0 einops==0.3.2 h5py numpy
    TF_USE_LEGACY_KERAS=1 ../released/tfenv/bin/python tests/golden/make_released_checkpoints.py \\
        uplift-upsample --repo ../released/uplift-upsample-3dhpe --out tests/golden

The released code was written for TensorFlow 2.4, whose ``tf.keras`` is Keras 2. TensorFlow 2.21's ``tf.keras``
is Keras 3, which writes another ``.h5`` layout, so the one adaptation is ``TF_USE_LEGACY_KERAS=1`` with
``tf_keras`` 2.21 (Keras 2 for TensorFlow 2.21): ``save_weights("x.h5")`` then writes the HDF5 layout of the
released files. Keras 2.21 also insists that a layer's ``trainable`` is a bool, and the released blocks pass
themselves there (``super().__init__(self, **kwargs)``, which TensorFlow 2.4 took as true): ``_bool_trainable``
converts it as 2.4 did. ``einops`` is 0.3.2, the released ``requirements.txt``'s version. Weights are float32 (as
released), drawn per ``model.weights`` entry from ``numpy.random.default_rng(4)``: N(0, 0.3), norm gains
1 + N(0, 0.1); inputs from the same generator; the model runs with ``training=False``.

MixSTE (JinluZhang1126/MixSTE) and Strided Transformer (Vegetebird/StridedTransformer-Pose3D) run with this
repository's torch 2.13 and einops 0.8.2; MixSTE's ``common/model_cross.py`` also imports ``timm`` and
``local_attention``, given as the stand-ins ``make_released_goldens.py`` describes (``--standins``: ``timm``'s
``DropPath`` as the identity, ``trunc_normal_`` as torch's, ``to_2tuple``, ``register_model`` returning its
argument, the ImageNet mean and std constants; an unused ``local_attention.LocalAttention`` class)::

    pip install --target ../released/extra einops==0.8.2
    PYTHONPATH=../released/extra python tests/golden/make_released_checkpoints.py torch \\
        --mixste ../released/MixSTE --strided ../released/StridedTransformer-Pose3D \\
        --standins ../released/standins --out tests/golden

MixSTE's file is the dict its ``run.py`` saves (``epoch``, ``lr``, ``random_state`` of a NumPy ``RandomState``,
``optimizer`` of an AdamW that took no step (its state empty: a small file), ``model_pos`` of the model wrapped
in ``nn.DataParallel``); Strided's is the ``state_dict()`` that ``common/utils.py``'s ``save_model`` writes as
``no_refine_*.pth``. Both float32, evaluation mode, weights from ``torch.Generator`` seeds 5 (MixSTE) and 6
(Strided) as ``make_released_goldens``'s ``randomise`` draws them. Sizes are recorded in each outputs file
(``sizes/<name>``) for the tests. Each weights file is kept gzipped (``gzip_fixture``); the tests unpack it.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

UPLIFT_SIZES = {"SEQUENCE_LENGTH": 9, "SEQUENCE_STRIDE": 5, "SPATIAL_EMBED_DIM": 8, "SPATIAL_TRANSFORMER_BLOCKS": 2,
                "TEMPORAL_EMBED_DIM": 16, "TEMPORAL_TRANSFORMER_BLOCKS": 2, "NUM_HEADS": 2, "MLP_RATIO": 2,
                "STRIDES": [3, 3], "PADDINGS": [[0, 0], [0, 0]]}  # fmt: skip
"""Reduced released config: 9 tokens (41 frames at s_out 5), two blocks per stage, strided 9 -> 3 -> 1."""
UPLIFT_KEY_FRAMES = [1, 0, 1, 0, 1, 0, 1, 0, 1]
"""Stride mask of the input (s_in = 10 at s_out = 5, centre token a key-frame)."""
MIXSTE_SIZES = {"num_frame": 9, "embed_dim_ratio": 8, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0}
STRIDED_SIZES = {"frames": 27, "stride_num": [3, 3, 3], "channel": 8, "d_hid": 16, "layers": 1}
BATCH = 2
JOINTS = 17


def gzip_fixture(path: Path) -> Path:
    """Replace a written file by ``<name>.gz`` (no timestamp inside: the same bytes every run); returns it.

    The released formats pad generously (HDF5 headers, 64-byte-aligned zip members): gzip keeps the files a
    third of their size, and the tests unpack the exact bytes the released code wrote.
    """
    packed = path.with_name(path.name + ".gz")
    with gzip.GzipFile(packed, "wb", compresslevel=9, mtime=0) as handle:
        handle.write(path.read_bytes())
    path.unlink()
    return packed


def _bool_trainable() -> None:
    """Let ``Layer.__init__`` take a truthy non-bool ``trainable`` as ``True``, as TensorFlow 2.4's Keras did."""
    import tensorflow as tf

    layer_init = tf.keras.layers.Layer.__init__

    def init(self, trainable=True, *args, **kwargs):
        layer_init(self, bool(trainable), *args, **kwargs)

    tf.keras.layers.Layer.__init__ = init


def uplift_upsample(repo: Path, out: Path) -> None:
    """Build, randomise, save (``.h5``) and run the released Keras model; write its outputs."""
    sys.path.insert(0, str(repo))
    import tensorflow as tf

    _bool_trainable()
    from common.net.uplift_upsample_transformer import UpliftUpsampleTransformer

    sizes = UPLIFT_SIZES
    # The arguments build_uplift_upsample_transformer passes for the released configs, at the reduced sizes.
    model = UpliftUpsampleTransformer(
        full_output=True, num_frames=sizes["SEQUENCE_LENGTH"], num_keypoints=JOINTS,
        spatial_d_model=sizes["SPATIAL_EMBED_DIM"], temporal_d_model=sizes["TEMPORAL_EMBED_DIM"],
        spatial_depth=sizes["SPATIAL_TRANSFORMER_BLOCKS"], temporal_depth=sizes["TEMPORAL_TRANSFORMER_BLOCKS"],
        strides=sizes["STRIDES"], paddings=sizes["PADDINGS"], num_heads=sizes["NUM_HEADS"],
        mlp_ratio=sizes["MLP_RATIO"], qkv_bias=True, attn_drop_rate=0.0, drop_rate=0.0, drop_path_rate=[0.1, 0.1, 0.0],
        output_bn=False, has_strided_input=True, first_strided_token_attention_layer=1, token_mask_rate=0.0,
        learnable_masked_token=False,
    )  # fmt: skip
    n = sizes["SEQUENCE_LENGTH"]
    model.build([(BATCH, n, JOINTS, 2), (BATCH, n)])
    rng = np.random.default_rng(4)
    for weight in model.weights:
        draw = rng.standard_normal(tuple(weight.shape))
        gain = weight.name.split("/")[-1].startswith("gamma")
        weight.assign((1.0 + 0.1 * draw if gain else 0.3 * draw).astype(np.float32))
    keypoints = rng.standard_normal((BATCH, n, JOINTS, 2)).astype(np.float32)
    mask = np.tile(np.asarray(UPLIFT_KEY_FRAMES, dtype=bool), (BATCH, 1))
    sequence, centre = model([tf.constant(keypoints), tf.constant(mask)], training=False)
    model.save_weights(str(out / "released_checkpoint_uplift_upsample.h5"))
    gzip_fixture(out / "released_checkpoint_uplift_upsample.h5")
    sizes_flat = {f"sizes/{k}": np.asarray(v) for k, v in sizes.items()}
    np.savez_compressed(out / "released_checkpoint_uplift_upsample_outputs.npz", keypoints=keypoints,
                        key_frame_mask=mask, sequence=sequence.numpy(), centre=centre.numpy()[:, :, :],
                        **sizes_flat)  # fmt: skip
    print("uplift-upsample: layers", [layer.name for layer in model.layers])


def _randomise(module, generator) -> None:
    """``make_released_goldens.randomise`` with the draws kept unrounded (as these fixtures were made)."""
    from make_released_goldens import randomise

    randomise(module, generator, float32_values=False)


def mixste(repo: Path, standins: Path, out: Path) -> None:
    """The released ``MixSTE2`` saved as ``run.py`` saves a checkpoint (``.bin``), and its output."""
    import torch

    sys.path[:0] = [str(standins), str(repo)]
    from common.model_cross import MixSTE2

    model = MixSTE2(num_joints=JOINTS, in_chans=2, drop_path_rate=0.0, **MIXSTE_SIZES)
    generator = torch.Generator().manual_seed(5)
    _randomise(model, generator)
    keypoints = torch.randn((BATCH, MIXSTE_SIZES["num_frame"], JOINTS, 2), generator=generator)
    wrapped = torch.nn.DataParallel(model)  # as run.py trains it: keys gain "module."
    optimizer = torch.optim.AdamW(wrapped.parameters(), lr=4e-5, weight_decay=0.1)  # no step: small file
    model.eval()
    with torch.no_grad():
        sequence = model(keypoints)
    torch.save({"epoch": 3, "lr": 3.9e-5, "random_state": np.random.RandomState(1234).get_state(),
                "optimizer": optimizer.state_dict(), "model_pos": wrapped.state_dict()},
               out / "released_checkpoint_mixste.bin")  # fmt: skip
    gzip_fixture(out / "released_checkpoint_mixste.bin")
    sizes = {f"sizes/{k}": np.asarray(v) for k, v in MIXSTE_SIZES.items()}
    np.savez_compressed(out / "released_checkpoint_mixste_outputs.npz", keypoints=keypoints.numpy(),
                        sequence=sequence.numpy(), **sizes)  # fmt: skip


def strided(repo: Path, out: Path) -> None:
    """The released Strided Transformer ``Model`` saved as ``save_model`` saves ``no_refine_*.pth``, and its outputs."""
    import torch

    sys.path.insert(0, str(repo))
    from model.strided_transformer import Model

    model = Model(SimpleNamespace(n_joints=JOINTS, out_joints=JOINTS, **STRIDED_SIZES)).eval()
    generator = torch.Generator().manual_seed(6)
    _randomise(model, generator)
    keypoints = torch.randn((BATCH, STRIDED_SIZES["frames"], JOINTS, 2), generator=generator)
    with torch.no_grad():
        centre, sequence = model(keypoints.clone())
    torch.save(model.state_dict(), out / "released_checkpoint_strided.pth")
    gzip_fixture(out / "released_checkpoint_strided.pth")
    sizes = {f"sizes/{k}": np.asarray(v) for k, v in STRIDED_SIZES.items()}
    np.savez_compressed(out / "released_checkpoint_strided_outputs.npz", keypoints=keypoints.numpy(),
                        centre=centre[:, 0].numpy(), sequence=sequence.numpy(), **sizes)  # fmt: skip


def main() -> None:
    """Parse the command and write its fixtures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keras = commands.add_parser("uplift-upsample", help="the Keras .h5 (run in the TensorFlow environment)")
    keras.add_argument("--repo", type=Path, required=True, help="checkout of goldbricklemon/uplift-upsample-3dhpe")
    keras.add_argument("--out", type=Path, required=True)
    torch_files = commands.add_parser("torch", help="MixSTE's .bin and the Strided Transformer's .pth")
    torch_files.add_argument("--mixste", type=Path, required=True, help="checkout of JinluZhang1126/MixSTE")
    torch_files.add_argument("--strided", type=Path, required=True, help="checkout of StridedTransformer-Pose3D")
    torch_files.add_argument("--standins", type=Path, required=True, help="timm and local_attention stand-ins")
    torch_files.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    if options.command == "uplift-upsample":
        uplift_upsample(options.repo, options.out)
    else:
        mixste(options.mixste, options.standins, options.out)
        strided(options.strided, options.out)


if __name__ == "__main__":
    main()
