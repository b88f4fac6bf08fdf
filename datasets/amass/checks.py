"""Inputs that would fail every AMASS file, refused before any work (and a regressor that looks swapped).

``check_inputs(config)`` runs once per conversion, in the process that orchestrates it: it reads the body
models and the regressor with numpy and needs torch only to check a device other than cpu or auto.
"""

from __future__ import annotations

import warnings

from datasets.amass.body_model import GENDERS, MODEL_TYPES, load_body_model, model_file
from datasets.amass.config import AmassConfig
from datasets.amass.regressor import load_regressor, regressor_side_warning


def check_inputs(config: AmassConfig) -> list[str]:
    """Fail fast on inputs that would fail every file; warn about a regressor that looks swapped.

    Args:
        config: Conversion settings.

    Returns:
        The warning messages (also issued with ``warnings.warn``).

    Raises:
        FileNotFoundError: If the archive root, the body-model directory, every model file or the regressor
            is missing.
        ValueError: If a body model or the regressor is unreadable, the regressor fits none of the models, or
            the device is unavailable.
    """
    if not config.amass_root.is_dir():
        raise FileNotFoundError(f"AMASS root {config.amass_root} is not a directory")
    if not config.body_models.is_dir():
        raise FileNotFoundError(f"body-model directory {config.body_models} does not exist")
    present = [(t, g, model_file(config.body_models, t, g)) for t in MODEL_TYPES for g in GENDERS]
    present = [(t, g, p) for t, g, p in present if p.is_file()]
    if not present:
        raise FileNotFoundError(
            f"no body model under {config.body_models}: expected smplh/<gender>/model.npz or "
            "smplx/SMPLX_<GENDER>.npz (AMASS's layout)"
        )
    if config.device not in ("cpu", "auto"):  # always valid; another device is checked with torch itself
        import torch

        try:
            device = torch.device(config.device)
        except RuntimeError as error:
            raise ValueError(f"device {config.device!r} is not a torch device: {error}") from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {config.device!r} requested but CUDA is not available")
    # Loading checks each model file: a truncated or foreign one is a ValueError naming it, before any work.
    models = [(path, load_body_model(path, model_type, config.num_betas)) for model_type, _, path in present]
    messages = []
    if config.regressor is not None:
        if not config.regressor.is_file():
            raise FileNotFoundError(f"regressor {config.regressor} does not exist")
        regressor = load_regressor(config.regressor, config.regressor_order)
        fitting = 0
        for path, model in models:
            if model.num_vertices != regressor.shape[1]:
                continue
            fitting += 1
            problem = regressor_side_warning(regressor, model)
            if problem is not None:
                messages.append(f"{path}: {problem}")
        if not fitting:
            raise ValueError(
                f"regressor {config.regressor} has {regressor.shape[1]} vertex columns, which fits none of the "
                f"body models under {config.body_models}"
            )
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=2)
    return messages
