"""The authors' released weights as a mocaplift checkpoint: read safely, map, check every tensor, wrap.

``import_released(path, "mixste", "h36m-243")`` reads the file in its released format (``RELEASED_FORMATS``),
maps every tensor to our names and layouts (``lifting.released.torch_layouts``, ``lifting.released.keras_layout``),
checks the result against the model the preset builds, key by key and shape by shape, and returns the
checkpoint dict ``lifting.training.checkpoint`` defines: the model's name, preset and resolved config exactly
as a trained checkpoint holds them, the training preset's config (its window settings are what evaluation
reads), the weights as ``state.model``, a fresh optimizer (the released optimizer states are not carried: they
belong to their own code's parameter order) and zero progress. ``finetune --init``, ``evaluate`` and ``lift``
read it like any other checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datasets.amass.config import H36M_FPS
from datasets.config import available_presets, load_config, to_jsonable
from datasets.skeletons import get_skeleton
from lifting.models import load_model_config
from lifting.released.keras_layout import read_keras_h5, uplift_upsample_from_keras
from lifting.released.safe_load import load_released_torch_file
from lifting.released.torch_layouts import (
    MIXSTE_WEIGHTS_KEY,
    STRIDED_REFINE_PREFIX,
    mixste_from_released,
    strided_from_released,
    without_data_parallel_prefix,
)
from lifting.training.checkpoint import TrainingProgress, make_checkpoint
from lifting.training.config import TrainingConfig
from lifting.training.model_interface import build_model_from_config, model_config_to_dict
from lifting.training.state import make_optimizer

DIFFERENCES_SHOWN = 3
"""Differing keys named in a mismatch message (the first ones, sorted)."""


@dataclass(frozen=True)
class ReleasedFormat:
    """How one model's authors released their weights.

    Attributes:
        repository: The GitHub repository of the released code and files.
        files: The released file kind, as the help and the docs name it.
        read: ``(path, model config) -> (our name -> array, released keys left out on purpose)``.
        frame_rate: Frame rate of the poses the released models were trained on, Hz (what ``lift`` resamples
            keypoints to): Human3.6M's 50 Hz for all three (Uplift-and-Upsample's AMASS model too: its AMASS
            data is resampled to that rate).
    """

    repository: str
    files: str
    read: Callable[[Path, Any], tuple[dict[str, np.ndarray], tuple[str, ...]]]
    frame_rate: float = H36M_FPS


def _arrays(state: Mapping[str, Any], path: Path) -> dict[str, np.ndarray]:
    """A loaded state dict's tensors as NumPy arrays; anything but tensors is refused naming the key."""
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    wrong = sorted(key for key, value in state.items() if not isinstance(value, torch.Tensor))
    if wrong:
        raise ValueError(f"{path} is not a state dict of tensors: {', '.join(map(str, wrong[:DIFFERENCES_SHOWN]))} "
                         "are not tensors (check --model)")  # fmt: skip
    return {str(key): value.detach().cpu().numpy() for key, value in state.items()}


def _read_uplift_upsample(path: Path, config: Any) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    return uplift_upsample_from_keras(read_keras_h5(path), qkv_bias=config.qkv_bias), ()


def _read_mixste(path: Path, config: Any) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """``model_pos`` of the released ``.bin`` (epoch, lr, optimizer and random state are not weights)."""
    loaded = load_released_torch_file(path)
    if not isinstance(loaded, Mapping) or MIXSTE_WEIGHTS_KEY not in loaded:
        keys = sorted(map(str, loaded))[:DIFFERENCES_SHOWN] if isinstance(loaded, Mapping) else type(loaded).__name__
        raise ValueError(f"{path} is not a released MixSTE checkpoint: it has no {MIXSTE_WEIGHTS_KEY!r} "
                         f"(it holds {keys}, ...); check --model")  # fmt: skip
    state = without_data_parallel_prefix(_arrays(loaded[MIXSTE_WEIGHTS_KEY], path))
    return mixste_from_released(state), ()


def _read_strided(path: Path, config: Any) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """A released ``no_refine_*.pth``; refinement-module keys (``post_refine.*``) are left out and reported."""
    state = without_data_parallel_prefix(_arrays(load_released_torch_file(path), path))
    refine = tuple(sorted(key for key in state if key.startswith(STRIDED_REFINE_PREFIX)))
    if refine and len(refine) == len(state):
        raise ValueError(f"{path} holds only the Strided Transformer's refinement module ({refine[0]}, ...), which "
                         "mocaplift's model has not; import the no_refine_*.pth file of the same release")  # fmt: skip
    kept = {key: value for key, value in state.items() if not key.startswith(STRIDED_REFINE_PREFIX)}
    return strided_from_released(kept), refine


RELEASED_FORMATS: Mapping[str, ReleasedFormat] = {
    "uplift-upsample": ReleasedFormat("goldbricklemon/uplift-upsample-3dhpe", "Keras .h5 weights",
                                      _read_uplift_upsample),
    "mixste": ReleasedFormat("JinluZhang1126/MixSTE", "torch .bin checkpoint (model_pos)", _read_mixste),
    "strided": ReleasedFormat("Vegetebird/StridedTransformer-Pose3D", "torch .pth state dict (no_refine_*.pth)",
                              _read_strided),
}  # fmt: skip
"""Model -> its released format; the importable models."""


@dataclass(frozen=True)
class ImportedCheckpoint:
    """A released file turned into a mocaplift checkpoint.

    Attributes:
        checkpoint: The checkpoint dict (``lifting.training.checkpoint``), ready for ``save_checkpoint``.
        left_out: Released keys deliberately not imported (the Strided refinement module's).
        parameters: Parameters of the imported model.
    """

    checkpoint: dict[str, Any]
    left_out: tuple[str, ...]
    parameters: int


def default_training_preset(model: str, preset: str) -> str:
    """The training preset named ``<model>-<preset>`` (e.g. ``mixste-h36m-243``), the released recipe's.

    Raises:
        ValueError: There is none; the message says to choose one.
    """
    name = f"{model}-{preset}"
    if name not in available_presets("training"):
        raise ValueError(f"no training preset {name!r} matches --model {model} --preset {preset}; choose one with "
                         f"--training-preset ({', '.join(available_presets('training'))})")  # fmt: skip
    return name


def fit_differences(mapped: Mapping[str, np.ndarray], expected: Mapping[str, torch.Tensor]) -> list[str]:
    """Every key that differs between the mapped file and the model, sorted: missing, unexpected, other shape."""
    differences = []
    for key in sorted(set(mapped) | set(expected)):
        if key not in mapped:
            differences.append(f"{key} missing from the file (model {tuple(expected[key].shape)})")
        elif key not in expected:
            differences.append(f"{key} {tuple(mapped[key].shape)} not in the model")
        elif tuple(mapped[key].shape) != tuple(expected[key].shape):
            differences.append(f"{key}: file {tuple(mapped[key].shape)}, model {tuple(expected[key].shape)}")
    return differences


def import_released(
    path: str | Path, model: str, preset: str, training_preset: str | None = None
) -> ImportedCheckpoint:
    """Read a released weights file into a checkpoint of ``model`` built from ``preset``.

    Args:
        path: The released file (``RELEASED_FORMATS[model].files``).
        model: ``uplift-upsample``, ``mixste`` or ``strided``.
        preset: The model preset matching the released config (e.g. ``h36m-351``), or a preset YAML file.
        training_preset: The training preset recorded as the checkpoint's training config (its window settings
            are what evaluation uses); None: ``default_training_preset``.

    Returns:
        The checkpoint, the keys left out, the parameter count.

    Raises:
        UnsafePickleError: The file's pickle asks for anything but tensors, containers and NumPy arrays.
        ValueError: Unknown model, unreadable file, or weights that do not fit the preset's model (one line naming
            the file and its first differing keys and shapes).
    """
    path = Path(path)
    if model not in RELEASED_FORMATS:
        raise ValueError(f"no released format known for model {model!r}; importable: {', '.join(RELEASED_FORMATS)}")
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    config = load_model_config(model, preset)
    training_name = training_preset or default_training_preset(model, preset)
    training = load_config(TrainingConfig, "training", training_name)
    mapped, left_out = RELEASED_FORMATS[model].read(path, config)
    network = build_model_from_config(model, config)
    expected = network.state_dict()
    differences = fit_differences(mapped, expected)
    if differences:
        shown = "; ".join(differences[:DIFFERENCES_SHOWN])
        more = f" and {len(differences) - DIFFERENCES_SHOWN} more" if len(differences) > DIFFERENCES_SHOWN else ""
        raise ValueError(f"{path} does not fit {model} preset {preset}: {shown}{more} (is it the {model} file of "
                         "that released config? check --model and --preset)")  # fmt: skip
    network.load_state_dict({key: torch.from_numpy(np.asarray(value)).to(expected[key].dtype)
                             for key, value in mapped.items()}, strict=True)  # fmt: skip
    checkpoint = make_checkpoint(
        model_name=model, model_preset=preset, model_overrides=None, model_config_data=model_config_to_dict(config),
        training_data=to_jsonable(training), skeleton=config.skeleton,
        joint_names=tuple(get_skeleton(config.skeleton).joint_names), model=network, ema=None,
        optimizer=make_optimizer(network, training, torch.device("cpu")), progress=TrainingProgress(),
    )  # fmt: skip
    return ImportedCheckpoint(checkpoint, left_out, sum(parameter.numel() for parameter in network.parameters()))
