"""Prefect flows that turn pose stores into checkpoints, each a version linked to its parents.

``pretrain`` (pose store -> checkpoint), ``finetune`` (checkpoint or scratch + pose store -> checkpoint) and
``pretrain-finetune``, which chains them with evaluation (``pipelines.evaluate.flows``): pretrain on AMASS,
finetune on the target, and, at the same finetuning budget, train from scratch; evaluate both and print the
comparison. With no data arguments everything runs on the licence-free demo data. Finished stages are reused
on rerun; the training maths lives in ``lifting``.

Training writes into ``<workspace>/cache/<version>/train`` while it runs, so an interrupted run (SIGTERM,
SIGINT, a crash) continues from its last checkpoint with ``resume=True``; the finished run's files are then
published as the version's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datasets.config import load_config
from datasets.workspace import Manifest, Workspace
from pipelines.convert.default_data import default_data
from pipelines.convert.run_options import as_options
from pipelines.evaluate.flows import BASELINE_ROUTE, baseline_version, comparison_table, evaluation_version
from pipelines.orchestration import create_markdown_artifact, flow, publish_summary, task
from pipelines.stage_names import EVALUATED_SPLIT, FINETUNE, PRETRAIN, PRETRAIN_DATA, PRETRAIN_FINETUNE, TARGET_DATA
from pipelines.train.options import TrainingOptions, TrainingRunOptions
from pipelines.train.publish import TrainingJob, train_or_reuse


def _training_config(preset: str, overrides: Mapping[str, Any]) -> Any:
    from lifting.training import TrainingConfig

    return load_config(TrainingConfig, "training", preset, overrides)


@task(name="train", retries=0)
def train_version(
    stage: str,
    root: str,
    data: str,
    init: str | None,
    model: str,
    model_preset: str,
    training_preset: str,
    overrides: Mapping[str, Any],
    device: str,
    resume: bool,
) -> Manifest:
    """Reuse or train and publish a checkpoint version (``pipelines.train.publish``, ``lifting.training.train``).

    ``root`` is the workspace root; the other arguments are ``TrainingJob``'s, with ``overrides`` laid over the
    training preset.
    """
    job = TrainingJob(stage, data, init, model, model_preset, training_preset,
                      _training_config(training_preset, overrides), device, resume)  # fmt: skip
    return train_or_reuse(Workspace(root), job)


def _train_flow(stage: str, default_data_stage: str, data: str | None, init: str | None,
                options: Mapping[str, Any] | TrainingOptions | None, run: Mapping[str, Any] | TrainingRunOptions | None,
                workspace: str | None) -> str:  # fmt: skip
    """Body of the pretrain and finetune flows: resolve the defaults, train or reuse, publish the artifact."""
    chosen, how = as_options(TrainingOptions, options), as_options(TrainingRunOptions, run)
    root = str(Workspace(workspace).root)
    data = data or default_data(root, default_data_stage, how.refresh)
    manifest = train_version(stage, root, data, init, chosen.model, chosen.preset, chosen.training_preset,
                             chosen.training_overrides(), how.device, how.resume)  # fmt: skip
    return publish_summary(manifest)


@flow(name=PRETRAIN, log_prints=True)
def pretrain(
    data: str | None = None,
    options: dict[str, Any] | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Pretrain a model on a pose store (default: the newest preprocess-amass, or the demo); returns the version.

    Args:
        data: Pose store version (id or stage). Default: the newest ``PRETRAIN_DATA`` version, or the demo.
        options: ``TrainingOptions`` fields (``pipelines.train.options``): model, presets, budget.
        run: ``TrainingRunOptions``: device, resume, and refresh (rerun the default data's conversion first,
            see ``pipelines.convert.default_data``).
        workspace: Workspace root.
    """
    return _train_flow(PRETRAIN, PRETRAIN_DATA, data, None, options, run, workspace)


@flow(name=FINETUNE, log_prints=True)
def finetune(
    data: str | None = None,
    init: str | None = None,
    options: dict[str, Any] | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Finetune a checkpoint (``init``; None trains from scratch) on a target store (default preprocess-h36m).

    Args:
        data: Target pose store version (id or stage). Default: the newest ``TARGET_DATA`` version, or the demo.
        init: Checkpoint version to start from.
        options: ``TrainingOptions`` fields (``pipelines.train.options``): model, presets, budget.
        run: ``TrainingRunOptions``: device, resume, refresh.
        workspace: Workspace root.
    """
    return _train_flow(FINETUNE, TARGET_DATA, data, init, options, run, workspace)


@flow(name=PRETRAIN_FINETUNE, log_prints=True)
def pretrain_finetune(
    pretrain_data: str | None = None,
    finetune_data: str | None = None,
    options: dict[str, Any] | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Pretrain on AMASS, finetune on the target, train from scratch at the same budget; evaluate both.

    The table also scores the constant-pose baseline (the target's mean training pose) on the same frames.
    ``options`` are ``TrainingOptions`` fields and ``run`` the ``TrainingRunOptions`` (``resume`` does not apply;
    ``refresh`` reruns the default data's conversions first, see ``pipelines.convert.default_data``).

    Returns:
        The comparison table (Markdown), also printed and published as an artifact.
    """
    chosen, how = as_options(TrainingOptions, options), as_options(TrainingRunOptions, run)
    model, model_preset, training_preset, device = chosen.model, chosen.preset, chosen.training_preset, how.device
    root = str(Workspace(workspace).root)
    pretrain_data = pretrain_data or default_data(root, PRETRAIN_DATA, how.refresh)
    finetune_data = finetune_data or default_data(root, TARGET_DATA, how.refresh)
    overrides = chosen.training_overrides()
    pretrained = train_version(PRETRAIN, root, pretrain_data, None, model, model_preset, training_preset,
                               overrides, device, False)  # fmt: skip
    routes = {
        "pretrained + finetuned": train_version(FINETUNE, root, finetune_data, pretrained.id, model, model_preset,
                                                training_preset, overrides, device, False),
        "from scratch": train_version(FINETUNE, root, finetune_data, None, model, model_preset, training_preset,
                                      overrides, device, False),
    }  # fmt: skip
    evaluations = {name: evaluation_version(root, manifest.id, finetune_data, EVALUATED_SPLIT, None, device)
                   for name, manifest in routes.items()}  # fmt: skip
    baseline = baseline_version(root, finetune_data, EVALUATED_SPLIT)
    rows = {BASELINE_ROUTE: baseline, **evaluations}
    table = comparison_table({name: row.metadata["summary"] for name, row in rows.items()}, reference=BASELINE_ROUTE)
    lines = [f"## {PRETRAIN_FINETUNE}: {model} ({model_preset}) on {finetune_data}", "", table, ""]
    lines += [f"- {name}: checkpoint {routes[name].id}, evaluation {evaluations[name].id}" for name in routes]
    lines += [f"- {BASELINE_ROUTE}: the training split's mean root-relative pose for every frame, {baseline.id}"]
    report = "\n".join(lines)
    print(report)
    create_markdown_artifact(markdown=report, key=PRETRAIN_FINETUNE, description=f"{model} {model_preset}")
    return report
