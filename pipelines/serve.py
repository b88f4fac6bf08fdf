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

from pipelines.convert.amass import preprocess_amass
from pipelines.convert.benchmarks import preprocess_3dhp, preprocess_h36m, preprocess_humaneva
from pipelines.evaluate.flows import evaluate_checkpoint
from pipelines.lift.flow import lift
from pipelines.lift.import_checkpoint import import_checkpoint
from pipelines.orchestration import FlowDefinition
from pipelines.train.flows import finetune, pretrain, pretrain_finetune

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
"""Every flow served, in ``prefect.yaml``'s order; each is ``pipelines.prefect_entry``'s ``entry_attribute``."""

ENTRY_MODULE = Path(__file__).resolve().parent / "prefect_entry.py"
"""Where Prefect loads every flow from: ``pipelines.prefect_entry`` holds each as a ``prefect.Flow``, while the
modules that define the flows do not import Prefect, so that commands running in-process start without it."""


def entry_attribute(name: str) -> str:
    """The attribute of ``pipelines.prefect_entry`` that is flow ``name``: its name with ``_`` for ``-``."""
    return name.replace("-", "_")


def entrypoint(name: str, relative_to: Path = ENTRY_MODULE.parents[1]) -> str:
    """Prefect's entry point of flow ``name`` (``pipelines/prefect_entry.py:preprocess_amass``) from ``relative_to``."""
    return f"{Path(os.path.relpath(ENTRY_MODULE, relative_to)).as_posix()}:{entry_attribute(name)}"


def deployments(workspace: str | None = None, tags: tuple[str, ...] = ("mocaplift",)) -> list:
    """One ``RunnerDeployment`` per flow, named like its flow, entered through ``pipelines/prefect_entry.py``."""
    parameters = {} if workspace is None else {"workspace": workspace}
    from pipelines import prefect_entry

    served = []
    for definition in FLOWS:
        flow = getattr(prefect_entry, entry_attribute(definition.name))
        deployment = flow.to_deployment(name=definition.name, parameters=parameters, tags=list(tags),
                                        description=flow.description)  # fmt: skip
        deployment.entrypoint = entrypoint(definition.name, relative_to=Path.cwd())  # not the defining module
        served.append(deployment)
    return served


def serve_all(workspace: str | None = None, limit: int | None = None) -> None:
    """Register every deployment with the Prefect API and run their flow runs here until interrupted."""
    from prefect import serve

    serve(*deployments(workspace), limit=limit)
