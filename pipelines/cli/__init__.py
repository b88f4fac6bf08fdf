"""The ``python flows.py`` command line: one subcommand per flow, plus version inspection.

Every subcommand parses its options and starts a flow from ``pipelines``; heavy imports (torch, prefect)
happen inside the commands so that ``--help`` stays instant. Commands register on one Typer app in the order
``--help`` lists them: conversions, training, importing released weights, lifting, then inspection and service.
"""

from pipelines.cli import preprocess, training  # noqa: F401, I001  (importing registers the commands, in --help's order)
from pipelines.cli import import_checkpoint, lift, versions, view  # noqa: F401, I001
from pipelines.cli.common import app
from pipelines.cli.prefect_api import apply_prefect_defaults


def main() -> None:
    """Entry point of ``python flows.py`` and the ``mocaplift`` console script."""
    apply_prefect_defaults()
    app()
