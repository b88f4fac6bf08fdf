"""Prefect deployments of every mocaplift flow, served by ``python flows.py serve``.

Prefect names a deployment ``<flow>/<deployment>``; each flow here gets one deployment of its own name, so
users run ``prefect deployment run preprocess-amass/preprocess-amass --param options='{"amass_root": ...}'``
(a conversion's config fields as one mapping, ``docs/configuration.md``). Every
parameter has a default that works (the licence-free demo data), so a run with no parameters succeeds; the one
exception is ``import-checkpoint``, whose released weights file no demo provides (a run without one says so).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.convert.amass import preprocess_amass
from pipelines.convert.benchmarks import preprocess_3dhp, preprocess_h36m, preprocess_humaneva
from pipelines.evaluate.flows import evaluate_checkpoint
from pipelines.lift.flow import lift
from pipelines.lift.import_checkpoint import import_checkpoint
from pipelines.orchestration import FlowDefinition
from pipelines.train.flows import finetune, pretrain, pretrain_finetune

if TYPE_CHECKING:
    import prefect

FLOWS: tuple[FlowDefinition, ...] = (
    preprocess_amass,
    preprocess_h36m,
    preprocess_3dhp,
    preprocess_humaneva,
    pretrain,
    finetune,
    evaluate_checkpoint,
    pretrain_finetune,
    import_checkpoint,
    lift,
)
"""Every flow served, in ``prefect.yaml``'s order; each is also ``flows.py``'s attribute ``entry_attribute``."""

ENTRY_SCRIPT = Path(__file__).resolve().parents[1] / "flows.py"
"""Where Prefect loads every flow from (``flows.py``'s module ``__getattr__``): the modules that define the flows
do not import Prefect, so that commands running in-process start without it."""


def entry_attribute(name: str) -> str:
    """The attribute of ``flows.py`` that is flow ``name`` for Prefect: ``preprocess-amass`` -> ``preprocess_amass``."""
    return name.replace("-", "_")


def entrypoint(name: str, relative_to: Path = ENTRY_SCRIPT.parent) -> str:
    """Prefect's entry point of flow ``name`` (``flows.py:preprocess_amass``), relative to ``relative_to``."""
    return f"{Path(os.path.relpath(ENTRY_SCRIPT, relative_to)).as_posix()}:{entry_attribute(name)}"


def prefect_flow(attribute: str) -> prefect.Flow:
    """The ``prefect.Flow`` that ``flows.py:<attribute>`` names (``entry_attribute``).

    Raises:
        AttributeError: No flow has that attribute (what a module's ``__getattr__`` must raise).
    """
    for flow in FLOWS:
        if entry_attribute(flow.name) == attribute:
            return flow.prefect()
    known = ", ".join(entry_attribute(flow.name) for flow in FLOWS)
    raise AttributeError(f"flows.py has no flow {attribute!r}; the flows are {known}")


def deployments(workspace: str | None = None, tags: tuple[str, ...] = ("mocaplift",)) -> list:
    """One ``RunnerDeployment`` per flow, named like its flow, entered through ``flows.py``."""
    parameters = {} if workspace is None else {"workspace": workspace}
    served = []
    for definition in FLOWS:
        flow = definition.prefect()
        deployment = flow.to_deployment(name=definition.name, parameters=parameters, tags=list(tags),
                                        description=flow.description)  # fmt: skip
        deployment.entrypoint = entrypoint(definition.name, relative_to=Path.cwd())  # not the defining module
        served.append(deployment)
    return served


def serve_all(workspace: str | None = None, limit: int | None = None) -> None:
    """Register every deployment with the Prefect API and run their flow runs here until interrupted."""
    from prefect import serve

    serve(*deployments(workspace), limit=limit)
