"""Numpy arrays and torch tensors through one code path, without importing torch.

Geometry and skeleton helpers accept both kinds. They do not import torch (~1.4 s): converters, readers and
the process that orchestrates workers use them on numpy arrays only. A tensor can exist only once torch is
imported, so ``torch_if_tensor`` finds torch in ``sys.modules`` exactly when it is needed.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, "torch.Tensor")
"""A numpy array or a torch tensor; functions return the kind (dtype, device) they were given."""


def torch_if_tensor(value: Any) -> ModuleType | None:
    """The ``torch`` module when ``value`` is a tensor, else None (then ``value`` is not a tensor)."""
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(value, torch.Tensor) else None
