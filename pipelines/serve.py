"""Prefect deployments of every mocaplift flow, served by ``python flows.py serve``.

Prefect names a deployment ``<flow>/<deployment>``; each flow here gets one deployment of its own name, so
users run ``prefect deployment run preprocess-amass/preprocess-amass --param options='{"amass_root": ...}'``
(a conversion's config fields as one mapping, ``docs/configuration.md``). Every
parameter has a default that works (the licence-free demo data), so a run with no parameters succeeds.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

FLOWS: Mapping[str, str] = {
    "preprocess-amass": "pipelines.amass:preprocess_amass",
    "preprocess-h36m": "pipelines.preprocess:preprocess_h36m",
    "preprocess-3dhp": "pipelines.preprocess:preprocess_3dhp",
    "preprocess-humaneva": "pipelines.preprocess:preprocess_humaneva",
    "pretrain": "pipelines.training:pretrain",
    "finetune": "pipelines.training:finetune",
    "evaluate": "pipelines.training:evaluate_flow",
    "pretrain-finetune": "pipelines.training:pretrain_finetune",
}
"""Flow name -> ``module:function`` of the Prefect flow."""


def load_flow(name: str):
    """The Prefect flow object called ``name``."""
    module_name, _, attribute = FLOWS[name].partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def available_flows() -> dict[str, object]:
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
    """One ``RunnerDeployment`` per available flow, named like its flow."""
    parameters = {} if workspace is None else {"workspace": workspace}
    return [
        flow.to_deployment(name=name, parameters=parameters, tags=list(tags), description=flow.description)
        for name, flow in available_flows().items()
    ]


def serve_all(workspace: str | None = None, limit: int | None = None) -> None:
    """Register every deployment with the Prefect API and run their flow runs here until interrupted."""
    from prefect import serve

    serve(*deployments(workspace), limit=limit)
