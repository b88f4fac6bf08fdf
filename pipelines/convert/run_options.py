"""How a conversion runs, as opposed to what it outputs: one declaration for the flows and the command line.

These options never change a version's id (its output is the same however it ran); the flows take them as
one ``RunOptions`` and ``python flows.py preprocess-*`` generates ``--workers``, ``--dask-address`` and
``--strict`` from the fields below (``pipelines.cli.options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from datasets.config import from_mapping
from pipelines.convert.workers import DASK_ADDRESS_ENVIRONMENT_VARIABLE, check_worker_count

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class RunOptions:
    """Where and how strictly a conversion runs.

    Attributes:
        workers: Local workers: 1 converts in this process, N > 1 in N processes forked from it (default: one
            per core, or this process alone for fewer than 16 items); not with dask_address.
        dask_address: Run on an existing Dask cluster, e.g. tcp://host:8786.
        strict: Fail (publish nothing) if any item is rejected.
    """

    workers: int | None = None
    dask_address: str | None = field(default=None, metadata={"envvar": DASK_ADDRESS_ENVIRONMENT_VARIABLE})
    strict: bool = False

    def __post_init__(self) -> None:
        check_worker_count(self.workers)


def as_options(options_type: type[OptionsT], value: OptionsT | Mapping[str, Any] | None) -> OptionsT:
    """``value`` as ``options_type``: a flow parameter arrives as the dataclass, its JSON mapping, or None.

    >>> as_options(RunOptions, {"workers": 2})
    RunOptions(workers=2, dask_address=None, strict=False)
    """
    if isinstance(value, options_type):
        return value
    return from_mapping(options_type, value or {}, f"{options_type.__name__} (flow parameter)")


FLOW_KEYWORDS = ("preset", "workspace")
"""Conversion-flow parameters that are neither a config field nor a run option."""


def regrouped(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A conversion call recorded before options were grouped, in today's form (others unchanged).

    A version's manifest may record its call as flat parameters (``amass_root=..., fps=..., workers=...``),
    where a conversion flow takes ``options`` (config fields) and ``run`` (``RunOptions``). ``--refresh``
    replays a recorded call, so a flat call is regrouped: run fields to ``run``, the rest (unset values
    dropped) to ``options``.

    >>> regrouped({"source": "/data/h36m", "format": None, "strict": True, "workspace": "w"})
    {'workspace': 'w', 'options': {'source': '/data/h36m'}, 'run': {'strict': True}}
    """
    if "options" in parameters or "run" in parameters:
        return dict(parameters)
    run_fields = {field.name for field in fields(RunOptions)}
    grouped: dict[str, Any] = {key: parameters[key] for key in FLOW_KEYWORDS if key in parameters}
    grouped["options"] = {key: value for key, value in parameters.items()
                          if key not in run_fields and key not in FLOW_KEYWORDS and value is not None}  # fmt: skip
    grouped["run"] = {key: value for key, value in parameters.items() if key in run_fields and value is not None}
    return grouped
