"""Outcomes of a flow that end a command with one line of explanation, not a traceback.

They live apart from the modules that raise them (the store build, training), so that the command line can
catch them without importing those modules (Zarr, Icechunk, torch) before the flow starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets.views import Rejection


class NothingAcceptedError(RuntimeError):
    """Every item of a conversion was rejected for its content (or ``strict`` was set and some were)."""

    @classmethod
    def citing(cls, summary: str, rejections: Sequence[Rejection]) -> NothingAcceptedError:
        """The error saying ``summary``, then the first rejection as ``First: PATH: REASON (DETAIL)``."""
        if not rejections:
            return cls(summary)
        first = rejections[0]
        return cls(f"{summary} First: {first.path}: {first.reason} ({first.detail})")


class TrainingInterrupted(RuntimeError):
    """Training stopped on a signal before finishing; its checkpoint is kept for ``--resume``."""
