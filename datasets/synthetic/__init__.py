"""Licence-free synthetic stand-ins for the licensed datasets, written in their exact on-disk formats.

``build_demo_amass(root) -> DemoAmassPaths`` (from ``datasets.synthetic.amass_archive``) writes the embedded
AMASS default: synthetic body models, an H36M regressor and a small archive. It is imported on first use,
so the other generators do not pay for the body-model stack.
"""

from __future__ import annotations

from typing import Any

_AMASS_EXPORTS = ("build_demo_amass", "DemoAmassPaths")


def __getattr__(name: str) -> Any:
    if name in _AMASS_EXPORTS:
        from datasets.synthetic import amass_archive

        return getattr(amass_archive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
