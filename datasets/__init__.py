"""mocaplift's data layer: skeletons, cameras, source readers, the pose store and torch datasets over it.

The package is named ``datasets`` (the project's fixed layout), which is also the import name of
Hugging Face's ``datasets`` distribution. Python can import only one of them; whichever comes first on
``sys.path`` silently hides the other. We refuse to run in that situation rather than let either
project import the wrong code.

This guard catches the case where this package is the one imported while Hugging Face's is installed too;
``lifting/__init__.py`` holds the only other guard, for the opposite order (Hugging Face's package found
first, so this file never runs). The two cannot share code: in the second case nothing of ours is
importable under the name ``datasets``, so that guard's message repeats ``_INSTALL_FIX`` in short.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

MOCAPLIFT_DATASETS = True
"""Marker other mocaplift packages check to be sure ``import datasets`` found this package."""

_INSTALL_FIX = (
    "Fix: install mocaplift in its own virtual environment "
    "(python -m venv .venv && . .venv/bin/activate && pip install -e '.[test]'), "
    "or remove the other package with `pip uninstall datasets`."
)


def _foreign_datasets_distribution() -> str | None:
    """Return where Hugging Face's ``datasets`` distribution is installed, or None if it is not."""
    try:
        distribution = importlib.metadata.distribution("datasets")
    except importlib.metadata.PackageNotFoundError:
        return None
    init_file = distribution.locate_file("datasets/__init__.py")
    if Path(init_file).resolve() == Path(__file__).resolve():
        return None
    return str(Path(init_file).parent)


def _refuse_shadowing() -> None:
    foreign = _foreign_datasets_distribution()
    if foreign is not None:
        raise ImportError(
            "Two packages named `datasets` are installed: mocaplift's (at "
            f"{Path(__file__).parent}) and Hugging Face's `datasets` distribution (at {foreign}). "
            "Only one can be imported, and the other would be silently replaced. " + _INSTALL_FIX
        )


_refuse_shadowing()
