"""Prefect deployments of every mocaplift flow, served by ``python flows.py serve``.

Prefect names a deployment ``<flow>/<deployment>``; each flow here gets one deployment of its own name, so
users run ``prefect deployment run preprocess-amass/preprocess-amass --param options='{"amass_root": ...}'``
(a conversion's config fields as one mapping, ``docs/configuration.md``). Every
parameter has a default that works (the licence-free demo data), so a run with no parameters succeeds.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import prefect

    from pipelines.orchestration import FlowDefinition

FLOWS: Mapping[str, str] = {
    "preprocess-amass": "pipelines.amass:preprocess_amass",
    "preprocess-h36m": "pipelines.preprocess:preprocess_h36m",
    "preprocess-3dhp": "pipelines.preprocess:preprocess_3dhp",
    "preprocess-humaneva": "pipelines.preprocess:preprocess_humaneva",
    "pretrain": "pipelines.training:pretrain",
    "finetune": "pipelines.training:finetune",
    "evaluate": "pipelines.training:evaluate_flow",
    "pretrain-finetune": "pipelines.training:pretrain_finetune",
    "lift": "pipelines.lift.flow:lift",
}
"""Flow name -> ``module:function`` of its definition (``pipelines.orchestration.flow``)."""

ENTRY_SCRIPT = Path(__file__).resolve().parents[1] / "flows.py"
"""Where Prefect loads every flow from (``flows.py``'s module ``__getattr__``): the modules that define the flows
do not import Prefect, so that commands running in-process start without it."""


def entry_attribute(name: str) -> str:
    """The attribute of ``flows.py`` that is flow ``name`` for Prefect: ``preprocess-amass`` -> ``preprocess_amass``."""
    return name.replace("-", "_")


def entrypoint(name: str, relative_to: Path = ENTRY_SCRIPT.parent) -> str:
    """Prefect's entry point of flow ``name`` (``flows.py:preprocess_amass``), relative to ``relative_to``."""
    return f"{Path(os.path.relpath(ENTRY_SCRIPT, relative_to)).as_posix()}:{entry_attribute(name)}"


def load_flow(name: str) -> FlowDefinition:
    """The definition of the flow called ``name`` (callable; ``.prefect()`` is its ``prefect.Flow``)."""
    module_name, _, attribute = FLOWS[name].partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def prefect_flow(attribute: str) -> prefect.Flow:
    """The ``prefect.Flow`` that ``flows.py:<attribute>`` names (``entry_attribute``).

    Raises:
        AttributeError: No flow has that attribute (what a module's ``__getattr__`` must raise).
    """
    for name in FLOWS:
        if entry_attribute(name) == attribute:
            return load_flow(name).prefect()
    raise AttributeError(f"flows.py has no flow {attribute!r}; the flows are {', '.join(map(entry_attribute, FLOWS))}")


def available_flows() -> dict[str, FlowDefinition]:
    """Every flow whose module exists in this version, by name."""
    flows = {}
    for name in FLOWS:
        try:
            flows[name] = load_flow(name)
        except ModuleNotFoundError as error:
            if not (error.name or "").startswith("pipelines."):
                raise
    return flows


def deployments(workspace: str | None = None, tags: tuple[str, ...] = ("mocaplift",)) -> list:
    """One ``RunnerDeployment`` per available flow, named like its flow, entered through ``flows.py``."""
    parameters = {} if workspace is None else {"workspace": workspace}
    served = []
    for name, definition in available_flows().items():
        flow = definition.prefect()
        deployment = flow.to_deployment(name=name, parameters=parameters, tags=list(tags), description=flow.description)
        deployment.entrypoint = entrypoint(name, relative_to=Path.cwd())  # not the defining module: see ENTRY_SCRIPT
        served.append(deployment)
    return served


def serve_all(workspace: str | None = None, limit: int | None = None) -> None:
    """Register every deployment with the Prefect API and run their flow runs here until interrupted."""
    from prefect import serve

    serve(*deployments(workspace), limit=limit)
