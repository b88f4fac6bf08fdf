"""AMASS -> Human3.6M-style views: discovery, body models, fast regressed joints, resampling, virtual cameras.

The pure, per-file half of ``preprocess-amass`` (the flow in ``pipelines/`` adds Dask, the store and
versions)::

    config = AmassConfig(amass_root=..., body_models=..., regressor=..., regressor_order="spin")
    check_inputs(config)                      # raises before any work for missing models/regressor
    manifest = discover(config)               # pyarrow Table, one row per motion file
    for item in manifest_files(manifest):     # picklable work items
        result = convert_amass_file(item, config)   # list[View] (one per camera) or Rejection
"""

from datasets.amass.config import AmassConfig
from datasets.amass.convert import RejectionReason, check_inputs, convert_amass_file
from datasets.amass.discovery import AmassFile, discover, discover_amass, manifest_files

__all__ = [
    "AmassConfig",
    "AmassFile",
    "RejectionReason",
    "check_inputs",
    "convert_amass_file",
    "discover",
    "discover_amass",
    "manifest_files",
]
