"""AMASS -> Human3.6M-style views: discovery, body models, fast regressed joints, resampling, virtual cameras.

The pure, per-file half of ``preprocess-amass`` (the flow in ``pipelines/`` adds Dask, the store and
versions)::

    from datasets.amass.checks import check_inputs
    from datasets.amass.config import AmassConfig
    from datasets.amass.convert import convert_amass_file
    from datasets.amass.discovery import discover, manifest_files

    config = AmassConfig(amass_root=..., body_models=..., regressor=..., regressor_order="spin")
    check_inputs(config)                      # raises before any work for missing models/regressor
    manifest = discover(config)               # pyarrow Table, one row per motion file
    for item in manifest_files(manifest):     # picklable work items
        result = convert_amass_file(item, config)   # list[View] (one per camera) or Rejection

The package imports nothing itself: ``datasets.amass.config`` (which the command line reads for ``--help``)
loads without torch and the body model, and a stage's code identity follows each module by name.
"""
