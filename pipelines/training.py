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

import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prefect import flow

from datasets.config import load_config, to_jsonable
from datasets.storage import Location, write_atomically
from datasets.store.integrity import open_verified_store
from datasets.workspace import Manifest, Workspace
from pipelines.code_identity import CodeIdentity, changed_sources, model_stage_code_identity, stage_code_identity
from pipelines.orchestration import create_markdown_artifact, task
from pipelines.stages import CACHE_DIRECTORY
from pipelines.versioning import StageRun, rerun_parameters

TRAINING_RUNTIME_FIELDS = ("num_workers", "progress_bar", "log_every_steps", "compile", "compile_mode")
"""TrainingConfig fields that do not change the trained weights: recorded, not hashed into the version (compiling
changes only the floating-point order of the same operations, as another GPU would)."""
RANK_WAIT_TIMEOUT_S = 600.0
"""How long other torchrun ranks wait for rank 0 to publish the version after training."""
DEFAULT_MODEL = "uplift-upsample"
DEFAULT_MODEL_PRESET = "demo"
DEFAULT_TRAINING_PRESET = "demo"
BASELINE_ROUTE = "mean pose"
"""Name of the constant-pose baseline's row in the pretrain-finetune table."""


class TrainingInterrupted(RuntimeError):
    """Training stopped on a signal before finishing; its checkpoint is kept for ``--resume``."""


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
    """Reuse or train and publish a checkpoint version (``lifting.training.train``)."""
    from lifting.models import load_model_config
    from lifting.training import BEST_CHECKPOINT, LAST_CHECKPOINT, METRICS_FILE, TENSORBOARD_DIRECTORY, train
    from lifting.training.distributed import resolve_device, resolve_precision
    from lifting.training.models import model_config_to_dict

    registry = Workspace(workspace)
    data_manifest = registry.resolve(data)
    init_manifest = registry.resolve(init) if init else None
    config = _training_config(training_preset, overrides)
    everything = to_jsonable(config)
    hashed = {key: value for key, value in everything.items() if key not in TRAINING_RUNTIME_FIELDS}
    hashed["precision"] = resolve_precision(config.precision, resolve_device(device))  # "auto" differs by device
    parents = [data_manifest.id] + ([init_manifest.id] if init_manifest else [])
    reads = {data_manifest.id: ("store",), **({init_manifest.id: ("checkpoint_best",)} if init_manifest else {})}
    run = StageRun(
        registry, stage, parents=parents, reads=reads, code=model_stage_code_identity(stage, model),
        config={"model": model, "model_preset": model_preset, "training_preset": training_preset, "training": hashed,
                "model_config": model_config_to_dict(load_model_config(model, model_preset))},
        runtime={"device": device, **{key: everything[key] for key in TRAINING_RUNTIME_FIELDS}},
    )  # fmt: skip
    existing = run.existing()
    if existing is not None:
        print(f"{stage}: reused version {existing.id}")
        return existing
    working = registry.local_directory(CACHE_DIRECTORY, run.id, "train")
    if not resume:
        shutil.rmtree(working, ignore_errors=True)
    store = open_verified_store(registry, data_manifest.id)  # refuses a store that differs from its manifest
    init_checkpoint = local_output(registry, init_manifest, "checkpoint_best") if init_manifest else None

    def run_training() -> Any:
        return train(model, model_preset, store, store, config, working, init_checkpoint=init_checkpoint,
                     resume=resume, device=device)  # fmt: skip

    if not _is_main_process():  # under torchrun: train with rank 0, which alone publishes
        run_training()
        return _wait_for_version(registry, run.id)
    with run:  # the manifest's start time and wall time cover the training
        result = run_training()
        if result.status == "interrupted":
            raise TrainingInterrupted(
                f"{stage} was interrupted after {result.global_step} steps; its checkpoint is in {working}. "
                f"Run the same command with --resume to continue."
            )
        outputs = {}
        # A run stopped by max_steps before its first validation has no best checkpoint yet: train() then
        # names the last one as the best, so publish the files it names.
        sources = {"checkpoint_best": (result.checkpoint_best, BEST_CHECKPOINT),
                   "checkpoint_last": (result.checkpoint_last, LAST_CHECKPOINT),
                   "metrics": (working / METRICS_FILE, METRICS_FILE)}  # fmt: skip
        for name, (source, file_name) in sources.items():
            outputs[name] = run.file_output(copy_into(source, run.directory / file_name))
        for event_file in sorted((working / TENSORBOARD_DIRECTORY).rglob("*")):
            if event_file.is_file():
                copy_into(event_file, run.directory / event_file.relative_to(working).as_posix())
        outputs["tensorboard"] = {"kind": "directory", "path": run.relative(run.directory / TENSORBOARD_DIRECTORY)}
        counts = {"epochs": result.epochs_completed, "steps": result.global_step}
        best = result.best_validation_mpjpe
        summary = (
            f"## {stage}\n\nmodel {model} ({model_preset}), {result.epochs_completed} epochs, {result.global_step} "
            f"steps"
            + (f", last epoch loss {result.last_epoch_loss:.4f}" if result.last_epoch_loss is not None else "")
            + (f", best validation MPJPE {best * 1000:.1f} mm" if best is not None else "")
            + f"\n\ndata: {result.data}"
        )
        manifest = run.publish(counts=counts, outputs=outputs, summary=summary,
                               metadata={"best_validation_mpjpe_m": best})  # fmt: skip
    shutil.rmtree(working.parent, ignore_errors=True)
    print(summary)
    return manifest


@task(name="evaluate")
def evaluate_version(workspace: str, checkpoint: str, data: str, split: str, preset: str | None,
                     device: str) -> Manifest:  # fmt: skip
    """Reuse or evaluate and publish a metrics version (``lifting.evaluation.evaluate``)."""
    from lifting.evaluation import EvaluationConfig, evaluate
    from lifting.training.distributed import resolve_device, resolve_precision

    registry = Workspace(workspace)
    checkpoint_manifest = registry.resolve(checkpoint)
    model = checkpoint_manifest.config["model"]
    if checkpoint == checkpoint_manifest.stage:  # a stage name picks its newest version
        current = model_stage_code_identity(checkpoint_manifest.stage, model)
        _report_newest(checkpoint_manifest, current, f"Rerun `python flows.py {checkpoint}` to train it anew.")
    data_manifest = registry.resolve(data)
    config = load_config(EvaluationConfig, "evaluation", preset, {"split": split})
    hashed = {**to_jsonable(config), "precision": resolve_precision(config.precision, resolve_device(device))}
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


def copy_into(source: Path, destination: Location) -> Location:
    """Copy a local file into a workspace location (a directory or object storage); returns ``destination``."""
    write_atomically(destination, lambda handle: handle.write(source.read_bytes()))
    return destination


def local_output(registry: Workspace, manifest: Manifest, name: str) -> Path:
    """A version's output as a local file (downloaded once into the local cache for remote workspaces)."""
    location = registry.output_path(manifest, name)
    if isinstance(location, Path):
        return location
    local = registry.local_directory("downloads", manifest.id, location.name)
    if not local.exists():
        write_atomically(local, lambda handle: handle.write(location.read_bytes()))
    return local


def _is_main_process() -> bool:
    """True unless this is a non-zero rank under ``torchrun`` (only rank 0 publishes a training version)."""
    return int(os.environ.get("RANK", "0")) == 0


def _wait_for_version(registry: Workspace, version_id: str, timeout_s: float = RANK_WAIT_TIMEOUT_S) -> Manifest:
    """Under ``torchrun``, the other ranks return the version rank 0 publishes once training ends."""
    deadline = time.monotonic() + timeout_s
    while (manifest := registry.get(version_id)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank 0 did not publish {version_id} within {timeout_s:.0f} s")
        time.sleep(1.0)
    return manifest


def _default_data(workspace: str, stage: str, refresh: bool = False) -> str:
    """The newest version of a preprocess stage (running it on the demo data if there is none).

    Says which version it picked and whether the code that made it differs from the stage's current code
    (``pipelines.code_identity``). With ``refresh``, reruns the stage first with the arguments that made the
    newest version: nothing is done if its code, config and inputs are unchanged, and when the rerun
    produces identical arrays every downstream version is reused (early cutoff).
    """
    from pipelines.orchestration import call_flow
    from pipelines.serve import load_flow

    registry = Workspace(workspace)
    manifests = registry.manifests(stage)
    if not manifests:
        return call_flow(load_flow(stage), workspace=workspace)
    newest = manifests[-1]
    if refresh:
        print(f"{stage}: --refresh: rerunning the call that made {newest.id}")
        return call_flow(load_flow(stage), **{**rerun_parameters(newest), "workspace": workspace})
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


def _overrides(epochs: int | None, max_steps: int | None) -> dict[str, Any]:
    return {key: value for key, value in {"epochs": epochs, "max_steps": max_steps}.items() if value is not None}


def _publish_artifact(manifest: Manifest) -> str:
    create_markdown_artifact(markdown=manifest.summary, key=manifest.stage, description=manifest.id)
    return manifest.id


def _train_flow(stage: str, default_data_stage: str, data: str | None, init: str | None, model: str,
                preset: str | None, training_preset: str, epochs: int | None, max_steps: int | None, device: str,
                resume: bool, workspace: str | None, refresh: bool = False) -> str:  # fmt: skip
    """Body of the pretrain and finetune flows: resolve the defaults, train or reuse, publish the artifact."""
    root = str(Workspace(workspace).root)
    data = data or _default_data(root, default_data_stage, refresh)
    manifest = train_version(stage, root, data, init, model, preset or DEFAULT_MODEL_PRESET, training_preset,
                             _overrides(epochs, max_steps), device, resume)  # fmt: skip
    return _publish_artifact(manifest)


@flow(name="pretrain", log_prints=True)
def pretrain(
    data: str | None = None,
    model: str = DEFAULT_MODEL,
    preset: str | None = None,
    training_preset: str = DEFAULT_TRAINING_PRESET,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str = "auto",
    resume: bool = False,
    workspace: str | None = None,
    refresh: bool = False,
) -> str:
    """Pretrain a model on a pose store (default: the newest preprocess-amass, or the demo); returns the version.

    ``refresh`` reruns the default data's conversion first (see ``_default_data``).
    """
    return _train_flow("pretrain", "preprocess-amass", data, None, model, preset, training_preset, epochs, max_steps,
                       device, resume, workspace, refresh)  # fmt: skip


@flow(name="finetune", log_prints=True)
def finetune(
    data: str | None = None,
    init: str | None = None,
    model: str = DEFAULT_MODEL,
    preset: str | None = None,
    training_preset: str = DEFAULT_TRAINING_PRESET,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str = "auto",
    resume: bool = False,
    workspace: str | None = None,
    refresh: bool = False,
) -> str:
    """Finetune a checkpoint (``init``; None trains from scratch) on a target store (default preprocess-h36m).

    ``refresh`` reruns the default data's conversion first (see ``_default_data``).
    """
    return _train_flow("finetune", "preprocess-h36m", data, init, model, preset, training_preset, epochs, max_steps,
                       device, resume, workspace, refresh)  # fmt: skip


@flow(name="evaluate", log_prints=True)
def evaluate_flow(
    checkpoint: str = "finetune",
    data: str | None = None,
    split: str = "test",
    preset: str | None = None,
    device: str = "auto",
    workspace: str | None = None,
    refresh: bool = False,
) -> str:
    """Evaluate a checkpoint version on a pose store's split with its dataset's protocol; returns the version."""
    root = str(Workspace(workspace).root)
    data = data or _default_data(root, "preprocess-h36m", refresh)
    return _publish_artifact(evaluate_version(root, checkpoint, data, split, preset, device))


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
    model: str = DEFAULT_MODEL,
    preset: str | None = None,
    training_preset: str = DEFAULT_TRAINING_PRESET,
    pretrain_data: str | None = None,
    finetune_data: str | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str = "auto",
    workspace: str | None = None,
    refresh: bool = False,
) -> str:
    """Pretrain on AMASS, finetune on the target, train from scratch at the same budget; evaluate both.

    The table also scores the constant-pose baseline (the target's mean training pose) on the same frames.
    ``refresh`` reruns the default data's conversions first (see ``_default_data``).

    Returns:
        The comparison table (Markdown), also printed and published as an artifact.
    """
    root = str(Workspace(workspace).root)
    pretrain_data = pretrain_data or _default_data(root, "preprocess-amass", refresh)
    finetune_data = finetune_data or _default_data(root, "preprocess-h36m", refresh)
    model_preset = preset or DEFAULT_MODEL_PRESET
    overrides = _overrides(epochs, max_steps)
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
