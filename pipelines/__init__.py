"""mocaplift's orchestration layer: Prefect flows, versioned stages, Dask glue and the command line."""

import lifting  # noqa: F401  (importing it refuses a `datasets` package that is not mocaplift's)
