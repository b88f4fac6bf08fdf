"""AMASS -> Human3.6M-style views: discovery, body models, fast regressed joints, resampling, virtual cameras.

The pure, per-file half of ``preprocess-amass`` (the flow in ``pipelines/`` adds Dask, the store and
versions)::

    config = AmassConfig(amass_root=..., body_models=..., regressor=..., regressor_order="spin")
    check_inputs(config)                      # raises before any work for missing models/regressor
    manifest = discover(config)               # pyarrow Table, one row per motion file
    for item in manifest_files(manifest):     # picklable work items
        result = convert_amass_file(item, config)   # list[View] (one per camera) or Rejection

The names below are imported on first use (PEP 562), so that ``datasets.amass.config`` (which the command
line reads for ``--help``) loads without torch and the body model.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AmassConfig": "datasets.amass.config",
    "RejectionReason": "datasets.amass.convert",
    "check_inputs": "datasets.amass.checks",
    "convert_amass_file": "datasets.amass.convert",
    "AmassFile": "datasets.amass.discovery",
    "discover": "datasets.amass.discovery",
    "discover_amass": "datasets.amass.discovery",
    "manifest_files": "datasets.amass.discovery",
}


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'datasets.amass' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = sorted(_EXPORTS)
