"""The ``evaluate`` flow and the evaluation-like versions: a checkpoint's metrics, the constant-pose baseline.

``evaluate_checkpoint`` is the flow (checkpoint + pose store + split -> metrics version with report and
plots); ``evaluation_version`` and ``baseline_version`` are its tasks, each reusing or making and publishing
one version; the metrics themselves are computed by ``lifting.evaluation`` (``evaluate``,
``evaluate_mean_pose``). ``comparison_table`` lays out ``pretrain-finetune``'s routes side by side.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets.config import load_config, split_runtime
from datasets.store.integrity import open_verified_store
from datasets.workspace import Manifest, Workspace
from pipelines.convert.conversion import CACHE_DIRECTORY
from pipelines.convert.default_data import default_data, report_newest
from pipelines.convert.run_options import as_options
from pipelines.lineage.code_identity import model_stage_code_identity
from pipelines.lineage.versioning import StageRun
from pipelines.orchestration import flow, publish_summary, task
from pipelines.stage_names import BASELINE, EVALUATE, EVALUATED_CHECKPOINT, EVALUATED_SPLIT, TARGET_DATA
from pipelines.train.options import TrainingRunOptions
from pipelines.train.publish import CHECKPOINT_OUTPUT, copy_into, local_output

BASELINE_ROUTE = "mean pose"
"""Name of the constant-pose baseline's row in the pretrain-finetune table."""


def evaluation_stage_run(workspace: Workspace, checkpoint: Manifest, data: Manifest, config: Any,
                         device: str) -> StageRun:  # fmt: skip
    """The version an evaluation makes: id from the checkpoint's and store's content, the config and precision.

    Args:
        workspace: The workspace.
        checkpoint: The checkpoint version evaluated (its ``config["model"]`` picks the code identity).
        data: The pose store version.
        config: The resolved ``lifting.evaluation.EvaluationConfig``; its ``runtime_field`` fields are
            recorded, not hashed.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``: it decides ``"auto"`` precision.
    """
    from lifting.training.distributed import run_precision

    hashed, runtime = split_runtime(config)
    hashed["precision"] = run_precision(config.precision, device)  # "auto" differs by device
    # An imported checkpoint has no training records: its version has no "metrics" output.
    checkpoint_reads = tuple(name for name in (CHECKPOINT_OUTPUT, "metrics") if name in checkpoint.outputs)
    return StageRun(
        workspace, EVALUATE, config=hashed, parents=[checkpoint.id, data.id],
        reads={checkpoint.id: checkpoint_reads, data.id: ("store",)},
        code=model_stage_code_identity(EVALUATE, checkpoint.config["model"]), runtime={"device": device, **runtime},
    )  # fmt: skip


@task(name=EVALUATE)
def evaluation_version(root: str, checkpoint: str, data: str, split: str, preset: str | None,
                       device: str) -> Manifest:  # fmt: skip
    """Reuse or evaluate and publish a metrics version (the metrics: ``lifting.evaluation.evaluate``).

    Args:
        root: The workspace root.
        checkpoint: Checkpoint version (id, or a stage name for its newest version).
        data: Pose store version (id or stage).
        split: The split evaluated.
        preset: Evaluation preset (``presets/evaluation/``); None: the store dataset's protocol.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """
    from lifting.evaluation import EvaluationConfig, evaluate

    workspace = Workspace(root)
    checkpoint_manifest = workspace.resolve(checkpoint)
    model = checkpoint_manifest.config["model"]
    if checkpoint == checkpoint_manifest.stage:  # a stage name picks its newest version
        current = model_stage_code_identity(checkpoint_manifest.stage, model)
        report_newest(checkpoint_manifest, current, f"Rerun `python flows.py {checkpoint}` to train it anew.")
    data_manifest = workspace.resolve(data)
    config = load_config(EvaluationConfig, "evaluation", preset, {"split": split})
    run = evaluation_stage_run(workspace, checkpoint_manifest, data_manifest, config, device)
    existing = run.existing()
    if existing is not None:
        print(f"{EVALUATE}: reused version {existing.id}")
        return existing
    store = open_verified_store(workspace, data_manifest.id)  # refuses a store that differs from its manifest
    scratch = workspace.local_directory(CACHE_DIRECTORY, run.id, "evaluation")
    shutil.rmtree(scratch, ignore_errors=True)
    with run:
        checkpoint_file = local_output(workspace, checkpoint_manifest, CHECKPOINT_OUTPUT)
        if "metrics" in checkpoint_manifest.outputs:  # beside the checkpoint: the report plots its curves
            local_output(workspace, checkpoint_manifest, "metrics")
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


@task(name=BASELINE)
def baseline_version(root: str, data: str, split: str) -> Manifest:
    """Reuse or score and publish the constant-pose baseline (``lifting.evaluation.evaluate_mean_pose``).

    Args:
        root: The workspace root.
        data: Pose store version (id or stage).
        split: The split scored.
    """
    from lifting.evaluation import EvaluationConfig, evaluate_mean_pose

    workspace = Workspace(root)
    data_manifest = workspace.resolve(data)
    config = EvaluationConfig(split=split, plots=False)
    hashed, runtime = split_runtime(config)
    run = StageRun(workspace, BASELINE, config={"prediction": "mean-pose", "train_splits": ["train"], **hashed},
                   parents=[data_manifest.id], reads={data_manifest.id: ("store",)}, runtime=runtime,
                   code=model_stage_code_identity(BASELINE, None))  # fmt: skip
    existing = run.existing()
    if existing is not None:
        print(f"{BASELINE}: reused version {existing.id}")
        return existing
    scratch = workspace.local_directory(CACHE_DIRECTORY, run.id, "baseline")
    shutil.rmtree(scratch, ignore_errors=True)
    with run:
        result = evaluate_mean_pose(open_verified_store(workspace, data_manifest.id), config, scratch)
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


@flow(name=EVALUATE, log_prints=True)
def evaluate_checkpoint(
    checkpoint: str = EVALUATED_CHECKPOINT,
    data: str | None = None,
    split: str = EVALUATED_SPLIT,
    preset: str | None = None,
    run: TrainingRunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Evaluate a checkpoint version on a pose store's split with its dataset's protocol; returns the version.

    Args:
        checkpoint: Checkpoint version (id or stage; a stage picks its newest version).
        data: Pose store version (id or stage). Default: the newest ``TARGET_DATA`` version, or the demo.
        split: The split evaluated.
        preset: Evaluation preset (``presets/evaluation/``) or a YAML file; None: the store dataset's protocol.
        run: ``TrainingRunOptions`` (device and refresh apply).
        workspace: Workspace root.
    """
    how = as_options(TrainingRunOptions, run)
    root = str(Workspace(workspace).root)
    data = data or default_data(root, TARGET_DATA, how.refresh)
    return publish_summary(evaluation_version(root, checkpoint, data, split, preset, how.device))


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
