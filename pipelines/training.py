"""Prefect flows that turn pose stores into checkpoints and metrics, each a version linked to its parents.

``pretrain`` (pose store -> checkpoint), ``finetune`` (checkpoint or scratch + pose store -> checkpoint),
``evaluate`` (checkpoint + pose store + split -> metrics and report) and ``pretrain-finetune``, which chains
them: pretrain on AMASS, finetune on the target, and, at the same finetuning budget, train from scratch;
evaluate both and print the comparison. With no data arguments everything runs on the licence-free demo
data. Finished stages are reused on rerun; the training maths lives in ``lifting``.

Training writes into ``<workspace>/cache/<version>/train`` while it runs, so an interrupted run (SIGTERM,
SIGINT, a crash) continues from its last checkpoint with ``resume=True``; the finished run's files are then
published as the version's outputs.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets.config import load_config, to_jsonable
from datasets.store.integrity import open_verified_store
from datasets.workspace import Manifest, Workspace
from pipelines.code_identity import CodeIdentity, changed_sources, model_stage_code_identity, stage_code_identity
from pipelines.orchestration import create_markdown_artifact, flow, task
from pipelines.run_options import as_options, regrouped
from pipelines.stages import CACHE_DIRECTORY
from pipelines.training_options import TrainingOptions, TrainingRunOptions
from pipelines.training_publish import TrainingJob, copy_into, local_output, train_or_reuse
from pipelines.versioning import StageRun, rerun_parameters

BASELINE_ROUTE = "mean pose"
"""Name of the constant-pose baseline's row in the pretrain-finetune table."""


def _training_config(preset: str, overrides: Mapping[str, Any]) -> Any:
    from lifting.training import TrainingConfig

    return load_config(TrainingConfig, "training", preset, overrides)


@task(name="train", retries=0)
def train_version(
    stage: str,
    workspace: str,
    data: str,
    init: str | None,
    model: str,
    model_preset: str,
    training_preset: str,
    overrides: Mapping[str, Any],
    device: str,
    resume: bool,
) -> Manifest:
    """Reuse or train and publish a checkpoint version (``pipelines.training_publish``, ``lifting.training.train``)."""
    job = TrainingJob(stage, data, init, model, model_preset, training_preset,
                      _training_config(training_preset, overrides), device, resume)  # fmt: skip
    return train_or_reuse(Workspace(workspace), job)


@task(name="evaluate")
def evaluate_version(workspace: str, checkpoint: str, data: str, split: str, preset: str | None,
                     device: str) -> Manifest:  # fmt: skip
    """Reuse or evaluate and publish a metrics version (``lifting.evaluation.evaluate``)."""
    from lifting.evaluation import EvaluationConfig, evaluate
    from lifting.training.distributed import run_precision

    registry = Workspace(workspace)
    checkpoint_manifest = registry.resolve(checkpoint)
    model = checkpoint_manifest.config["model"]
    if checkpoint == checkpoint_manifest.stage:  # a stage name picks its newest version
        current = model_stage_code_identity(checkpoint_manifest.stage, model)
        _report_newest(checkpoint_manifest, current, f"Rerun `python flows.py {checkpoint}` to train it anew.")
    data_manifest = registry.resolve(data)
    config = load_config(EvaluationConfig, "evaluation", preset, {"split": split})
    hashed = {**to_jsonable(config), "precision": run_precision(config.precision, device)}
    run = StageRun(
        registry, "evaluate", config=hashed, parents=[checkpoint_manifest.id, data_manifest.id],
        reads={checkpoint_manifest.id: ("checkpoint_best", "metrics"), data_manifest.id: ("store",)},
        code=model_stage_code_identity("evaluate", model), runtime={"device": device},
    )  # fmt: skip
    existing = run.existing()
    if existing is not None:
        print(f"evaluate: reused version {existing.id}")
        return existing
    store = open_verified_store(registry, data_manifest.id)  # refuses a store that differs from its manifest
    scratch = registry.local_directory(CACHE_DIRECTORY, run.id, "evaluation")
    shutil.rmtree(scratch, ignore_errors=True)
    with run:
        checkpoint_file = local_output(registry, checkpoint_manifest, "checkpoint_best")
        local_output(registry, checkpoint_manifest, "metrics")  # beside the checkpoint: the report plots its curves
        result = evaluate(checkpoint_file, store, config, scratch, device=device)

        def publish_file(path: Path) -> dict[str, Any]:
            return run.file_output(copy_into(path, run.directory / "evaluation" / path.relative_to(scratch).as_posix()))

        outputs = {"report": publish_file(result.report_path), "metrics": publish_file(result.metrics_path)}
        outputs.update({f"plot_{path.stem}": publish_file(path) for path in result.plots})
        if result.predictions_path is not None:
            outputs["predictions"] = publish_file(result.predictions_path)
        outputs.update({path.stem: publish_file(path) for path in result.viewers})  # viewer_worst, viewer_best
        summary = f"## evaluate {checkpoint_manifest.id} on {data_manifest.id} ({split})\n\n{result.markdown_table}"
        manifest = _publish_scores(run, result, outputs, summary)
    shutil.rmtree(scratch.parent, ignore_errors=True)
    print(summary)
    return manifest


@task(name="baseline")
def baseline_version(workspace: str, data: str, split: str) -> Manifest:
    """Reuse or score and publish the constant-pose baseline (``lifting.evaluation.evaluate_mean_pose``)."""
    from lifting.evaluation import EvaluationConfig, evaluate_mean_pose

    registry = Workspace(workspace)
    data_manifest = registry.resolve(data)
    config = EvaluationConfig(split=split, plots=False)
    run = StageRun(registry, "baseline", config={"prediction": "mean-pose", "train_splits": ["train"],
                   **to_jsonable(config)}, parents=[data_manifest.id], reads={data_manifest.id: ("store",)},
                   code=model_stage_code_identity("baseline", None))  # fmt: skip
    existing = run.existing()
    if existing is not None:
        print(f"baseline: reused version {existing.id}")
        return existing
    scratch = registry.local_directory(CACHE_DIRECTORY, run.id, "baseline")
    shutil.rmtree(scratch, ignore_errors=True)
    with run:
        result = evaluate_mean_pose(open_verified_store(registry, data_manifest.id), config, scratch)
        outputs = {
            name: run.file_output(copy_into(path, run.directory / "baseline" / path.name))
            for name, path in (("report", result.report_path), ("metrics", result.metrics_path))
        }
        summary = f"## baseline (mean training pose) on {data_manifest.id} ({split})\n\n{result.markdown_table}"
        manifest = _publish_scores(run, result, outputs, summary)
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return manifest


def _publish_scores(run: StageRun, result: Any, outputs: Mapping[str, Any], summary: str) -> Manifest:
    """Publish an evaluation-like version: counts, outputs, summary, and the protocol's headline metrics."""
    return run.publish(
        counts={"views": result.views, "frames": result.frames}, outputs=outputs, summary=summary,
        metadata={"protocol": result.protocol, "summary": result.summary},
    )  # fmt: skip


def _default_data(workspace: str, stage: str, refresh: bool = False) -> str:
    """The newest version of a preprocess stage (running it on the demo data if there is none).

    Says which version it picked and whether the code that made it differs from the stage's current code
    (``pipelines.code_identity``). With ``refresh``, reruns the stage first with the arguments that made the
    newest version: nothing is done if its code, config and inputs are unchanged, and when the rerun
    produces identical arrays every downstream version is reused (early cutoff).
    """
    from pipelines.serve import load_flow

    registry = Workspace(workspace)
    manifests = registry.manifests(stage)
    if not manifests:
        return load_flow(stage)(workspace=workspace)  # in-process when this flow is
    newest = manifests[-1]
    if refresh:
        print(f"{stage}: --refresh: rerunning the call that made {newest.id}")
        return load_flow(stage)(**{**regrouped(rerun_parameters(newest)), "workspace": workspace})
    _report_newest(newest, stage_code_identity(stage), "Add --refresh to rerun it.")
    return newest.id


def _report_newest(newest: Manifest, current: CodeIdentity, remedy: str) -> None:
    """Say which version a default picked, and whether code that differs from the current code made it."""
    changed = changed_sources(newest.code, current)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        print(f"{newest.stage}: using {newest.id}, the newest version; the code that made it differs from the "
              f"current code ({shown}). {remedy}")  # fmt: skip
    else:
        print(f"{newest.stage}: using {newest.id}, the newest version (made by the current code)")


def _publish_artifact(manifest: Manifest) -> str:
    create_markdown_artifact(markdown=manifest.summary, key=manifest.stage, description=manifest.id)
    return manifest.id


def _train_flow(stage: str, default_data_stage: str, data: str | None, init: str | None,
                options: Mapping[str, Any] | TrainingOptions | None, run: Mapping[str, Any] | TrainingRunOptions | None,
                workspace: str | None) -> str:  # fmt: skip
    """Body of the pretrain and finetune flows: resolve the defaults, train or reuse, publish the artifact."""
    chosen, how = as_options(TrainingOptions, options), as_options(TrainingRunOptions, run)
    root = str(Workspace(workspace).root)
    data = data or _default_data(root, default_data_stage, how.refresh)
    manifest = train_version(stage, root, data, init, chosen.model, chosen.preset, chosen.training_preset,
                             chosen.training_overrides(), how.device, how.resume)  # fmt: skip
    return _publish_artifact(manifest)


@flow(name="pretrain", log_prints=True)
def pretrain(
    data: str | None = None,
    options: dict[str, Any] | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Pretrain a model on a pose store (default: the newest preprocess-amass, or the demo); returns the version.

    Args:
        data: Pose store version (id or stage).
        options: ``TrainingOptions`` fields (``pipelines.training_options``): model, presets, budget.
        run: ``TrainingRunOptions``: device, resume, and refresh (rerun the default data's conversion first,
            see ``_default_data``).
        workspace: Workspace root.
    """
    return _train_flow("pretrain", "preprocess-amass", data, None, options, run, workspace)


@flow(name="finetune", log_prints=True)
def finetune(
    data: str | None = None,
    init: str | None = None,
    options: dict[str, Any] | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Finetune a checkpoint (``init``; None trains from scratch) on a target store (default preprocess-h36m).

    Args:
        data: Target pose store version (id or stage).
        init: Checkpoint version to start from.
        options: ``TrainingOptions`` fields (``pipelines.training_options``): model, presets, budget.
        run: ``TrainingRunOptions``: device, resume, refresh.
        workspace: Workspace root.
    """
    return _train_flow("finetune", "preprocess-h36m", data, init, options, run, workspace)


@flow(name="evaluate", log_prints=True)
def evaluate_flow(
    checkpoint: str = "finetune",
    data: str | None = None,
    split: str = "test",
    preset: str | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Evaluate a checkpoint version on a pose store's split with its dataset's protocol; returns the version.

    ``run``: ``TrainingRunOptions`` (device and refresh apply).
    """
    how = as_options(TrainingRunOptions, run)
    root = str(Workspace(workspace).root)
    data = data or _default_data(root, "preprocess-h36m", how.refresh)
    return _publish_artifact(evaluate_version(root, checkpoint, data, split, preset, how.device))


def comparison_table(summaries: Mapping[str, Mapping[str, float]], reference: str | None = None) -> str:
    """Markdown table of headline metrics, one row per route.

    Args:
        summaries: Route name -> its headline metrics (an evaluation version's ``metadata["summary"]``), in
            table order.
        reference: A route whose MPJPE the others' is also given as a multiple of (column ``mpjpe x <reference>``).
    """
    metrics = sorted({name for summary in summaries.values() for name in summary})
    ratio = reference is not None and "mpjpe_mm" in metrics
    header = "| route | " + " | ".join(metrics) + (f" | mpjpe x {reference} |" if ratio else " |")
    lines = [header, "|---" + "|---:" * (len(metrics) + ratio) + "|"]
    for route, summary in summaries.items():
        cells = ["-" if summary.get(name) is None else f"{summary[name]:.2f}" for name in metrics]
        if ratio:
            cells.append(f"{summary['mpjpe_mm'] / summaries[reference]['mpjpe_mm']:.2f}")
        lines.append(f"| {route} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@flow(name="pretrain-finetune", log_prints=True)
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
    ``refresh`` reruns the default data's conversions first, see ``_default_data``).

    Returns:
        The comparison table (Markdown), also printed and published as an artifact.
    """
    chosen, how = as_options(TrainingOptions, options), as_options(TrainingRunOptions, run)
    model, model_preset, training_preset, device = chosen.model, chosen.preset, chosen.training_preset, how.device
    root = str(Workspace(workspace).root)
    pretrain_data = pretrain_data or _default_data(root, "preprocess-amass", how.refresh)
    finetune_data = finetune_data or _default_data(root, "preprocess-h36m", how.refresh)
    overrides = chosen.training_overrides()
    pretrained = train_version("pretrain", root, pretrain_data, None, model, model_preset, training_preset,
                               overrides, device, False)  # fmt: skip
    routes = {
        "pretrained + finetuned": train_version("finetune", root, finetune_data, pretrained.id, model, model_preset,
                                                training_preset, overrides, device, False),
        "from scratch": train_version("finetune", root, finetune_data, None, model, model_preset, training_preset,
                                      overrides, device, False),
    }  # fmt: skip
    evaluations = {name: evaluate_version(root, manifest.id, finetune_data, "test", None, device)
                   for name, manifest in routes.items()}  # fmt: skip
    baseline = baseline_version(root, finetune_data, "test")
    rows = {BASELINE_ROUTE: baseline, **evaluations}
    table = comparison_table({name: row.metadata["summary"] for name, row in rows.items()}, reference=BASELINE_ROUTE)
    lines = [f"## pretrain-finetune: {model} ({model_preset}) on {finetune_data}", "", table, ""]
    lines += [f"- {name}: checkpoint {routes[name].id}, evaluation {evaluations[name].id}" for name in routes]
    lines += [f"- {BASELINE_ROUTE}: the training split's mean root-relative pose for every frame, {baseline.id}"]
    report = "\n".join(lines)
    print(report)
    create_markdown_artifact(markdown=report, key="pretrain-finetune", description=f"{model} {model_preset}")
    return report
