"""Conversion stages: AMASS and the three benchmarks -> versioned pose stores.

``amass`` and ``benchmarks`` hold the ``preprocess-*`` flows; ``conversion`` is the stage they share (reuse or
build, validate, publish); ``store_build`` writes a store from many workers' fragments; ``workers`` opens
local processes or a Dask cluster; ``run_options`` is how a conversion runs (never part of its version).
"""
