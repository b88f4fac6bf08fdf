"""The ``lift`` flow: a detector's 2D keypoints (a file, or a folder of many) -> 3D poses, as a ``lift`` version.

Steps: resolve the checkpoint (a version id or a stage name, its newest version, as ``evaluate`` does); find
the inputs (``datasets.keypoints.discover_keypoint_inputs``); read a single file before any model is loaded,
so a file with no usable person is one ``error:`` line; derive the version from the checkpoint's content,
the inputs' SHA-256 and the options, and reuse it when it exists; otherwise lift every input (a folder's
files on local workers or a Dask cluster, ``pipelines.convert.workers``, as ``preprocess-amass`` converts), write
each clip's files (``pipelines.lift.clips``), list unusable files in the ``rejected`` table and publish.

With no ``keypoints`` it lifts the demo detector file (``datasets.synthetic.detector_keypoints``), and with
no ``checkpoint`` the demo's finetuned checkpoint (``default_checkpoint``; ``python flows.py pretrain-finetune``
makes it).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets.config import split_runtime, to_jsonable
from datasets.escaping import markdown_text, terminal_text
from datasets.keypoints import DetectedKeypoints
from datasets.storage import write_parquet
from datasets.views import Rejection
from datasets.workspace import Manifest, VersionNotFoundError, Workspace
from pipelines.convert.benchmarks import DEMO_DIRECTORY, generate_once
from pipelines.convert.conversion import CACHE_DIRECTORY, rejected_table
from pipelines.convert.run_options import RunOptions, as_options
from pipelines.convert.workers import open_workers
from pipelines.errors import NothingAcceptedError
from pipelines.lift.clips import (
    ClipJob,
    LiftedResult,
    lift_clip,
    lift_detected,
    read_clip,
    video_suffix,
    write_clip,
)
from pipelines.lift.options import LiftOptions, LiftRunOptions
from pipelines.lineage.code_identity import model_stage_code_identity
from pipelines.lineage.file_hashes import FileHashes, files_fingerprint
from pipelines.lineage.versioning import StageRun
from pipelines.orchestration import create_markdown_artifact, flow, task
from pipelines.stage_names import FINETUNE, LIFT, PRETRAIN
from pipelines.train.publish import CHECKPOINT_OUTPUT, copy_into, local_output


def demo_detections(workspace: Workspace) -> tuple[Path, dict[str, Any]]:
    """The demo detector file (generated once per workspace) and the options it needs (frame rate, image size)."""
    from datasets.synthetic.detector_keypoints import write_demo_detections

    root = workspace.local_directory(DEMO_DIRECTORY, "detections")
    record = root / "demo_detections.json"

    def build() -> None:
        made = write_demo_detections(root)
        record.write_text(json.dumps({"path": made.path.name, "fps": made.fps, "image_size": list(made.image_size)}))

    generate_once(root, record, build)
    recorded = json.loads(record.read_text())
    return root / recorded["path"], {"fps": recorded["fps"], "image_size": recorded["image_size"]}


def default_checkpoint(workspace: Workspace) -> Manifest:
    """The demo's finetuned checkpoint, the default of ``lift``.

    The newest ``finetune`` version started from a ``pretrain`` one (the "pretrained + finetuned" route of
    ``pretrain-finetune``), else the newest ``finetune`` version.

    Raises:
        ValueError: the workspace has no ``finetune`` version; the message says to run ``pretrain-finetune``.
    """
    finetuned = workspace.manifests(FINETUNE)
    if not finetuned:
        raise ValueError(
            f"lift needs a trained checkpoint and {workspace.root} has no {FINETUNE} version; "
            "run `python flows.py pretrain-finetune` first, or pass --checkpoint"
        )
    pretrained = {manifest.id for manifest in workspace.manifests(PRETRAIN)}
    from_pretraining = [manifest for manifest in finetuned if pretrained & set(manifest.parents)]
    return (from_pretraining or finetuned)[-1]


def resolve_checkpoint(workspace: Workspace, reference: str | None) -> Manifest:
    """The checkpoint version ``reference`` names (id, prefix or stage; None: ``default_checkpoint``).

    Raises:
        ValueError: nothing matches, or the version holds no checkpoint (one line saying what to pass).
    """
    if reference is None:
        return default_checkpoint(workspace)
    try:
        manifest = workspace.resolve(reference)
    except VersionNotFoundError as error:
        raise ValueError(str(error)) from None
    if CHECKPOINT_OUTPUT not in manifest.outputs:
        raise ValueError(
            f"--checkpoint {reference}: version {manifest.id} ({manifest.stage}) holds no checkpoint; "
            "name a pretrain, finetune or imported checkpoint version"
        )
    return manifest


def training_frame_rate(workspace: Workspace, checkpoint: Manifest) -> float:
    """Frame rate the checkpoint was trained at, Hz: recorded on it, else its training store's views' rate."""
    from datasets.store import open_store

    recorded = checkpoint.metadata.get("fps", checkpoint.config.get("fps"))
    if recorded is not None:
        return float(recorded)
    for parent in checkpoint.parents:
        manifest = workspace.get(parent)
        if manifest is not None and "store" in manifest.outputs:
            rates = Counter(open_store(workspace.root, parent).index["fps"].to_pylist())
            rate, _ = rates.most_common(1)[0]
            if len(rates) > 1:
                print(f"lift: {parent} holds views at {sorted(rates)} Hz; lifting at the most common, {rate:g} Hz")
            return float(rate)
    raise ValueError(f"checkpoint {checkpoint.id} records no training frame rate and has no training store parent")


def clip_name(path: Path) -> str:
    """A clip's folder in the version: its file name, other characters than ``[A-Za-z0-9._-]`` as ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", path.name)


def input_fingerprint(sources: Sequence[Path], hashes: FileHashes) -> dict[str, str]:
    """Each input by content: its clip name -> SHA-256 of the file (of an OpenPose folder's files).

    Hashes come through the workspace's cache (``pipelines.lineage.file_hashes``): a rerun over a lab's whole
    collection reads only the files that changed.
    """
    fingerprint = {}
    for source in sources:
        if source.is_dir():
            files = sorted(p for p in source.rglob("*") if p.is_file())
            fingerprint[clip_name(source)] = files_fingerprint(files, source, hashes)
        else:
            fingerprint[clip_name(source)] = hashes.sha256(source)
    return fingerprint


def _lift_all(
    jobs: Sequence[ClipJob], single: DetectedKeypoints | None, run: RunOptions
) -> list[LiftedResult | Rejection]:
    """Every job's result in order: a single file (already read: ``single``) in this process, a folder's on workers."""
    if single is not None:
        return [lift_detected(jobs[0], single)]
    with open_workers(run.workers, run.dask_address, items=len(jobs)) as workers:
        futures = [workers.submit(lift_clip, job) for job in jobs]
        return [future.result() for future in futures]


def _summary(manifest_counts: Mapping[str, int], lifted: Sequence[str], rejections: Sequence[Rejection]) -> str:
    """The version's Markdown summary: counts, each lifted file, each rejected one with why (names escaped)."""
    lines = ["## lift", "", "| count | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in manifest_counts.items())]
    lines += ["", *(f"- lifted {markdown_text(name)}" for name in lifted)]
    lines += [
        f"- rejected {markdown_text(rejection.path)}: {markdown_text(rejection.detail)}" for rejection in rejections
    ]
    return "\n".join(lines)


def lift_stage_run(workspace: Workspace, checkpoint: Manifest, sources: Sequence[Path], given: Path,
                   options: LiftOptions, outputs: LiftRunOptions, single: bool) -> StageRun:  # fmt: skip
    """The version lifting ``sources`` with ``checkpoint`` makes (nothing runs).

    Its id follows the checkpoint's content, the inputs' SHA-256, every ``LiftOptions`` field, which extra
    files are made, and the inference settings with the precision that "auto" resolves to on the run's device
    (as ``evaluate`` hashes it).
    """
    from lifting.evaluation import EvaluationConfig
    from lifting.training.distributed import run_precision

    with FileHashes.of_workspace(workspace) as hashes:
        fingerprint = input_fingerprint(sources, hashes)
    inference, _ = split_runtime(EvaluationConfig())
    inference["precision"] = run_precision(EvaluationConfig().precision, outputs.device)
    return StageRun(
        workspace, LIFT, parents=[checkpoint.id], reads={checkpoint.id: (CHECKPOINT_OUTPUT,)},
        config={**to_jsonable(options), "video": video_suffix(outputs.video), "bvh": outputs.bvh is not None,
                "single": single, "inference": inference},
        inputs={"keypoints": fingerprint},
        code=model_stage_code_identity(LIFT, checkpoint.config.get("model")),
        runtime={"keypoints": str(given), "device": outputs.device, "video": str(outputs.video or ""),
                 "bvh": str(outputs.bvh or "")},
    )  # fmt: skip


@task(name="lift-version")
def lift_version(root: str, checkpoint: str | None, keypoints: str, options: LiftOptions,
                 outputs: LiftRunOptions, run: RunOptions) -> tuple[Manifest, bool]:  # fmt: skip
    """Reuse or lift and publish the ``lift`` version of ``keypoints`` (a file or a folder) with ``checkpoint``."""
    from datasets.keypoints import discover_keypoint_inputs

    workspace = Workspace(root)
    checkpoint_manifest = resolve_checkpoint(workspace, checkpoint)
    print(f"lift: checkpoint {checkpoint_manifest.id}")
    given = Path(keypoints)
    if not given.exists():
        raise ValueError(f"--keypoints {given} does not exist")
    sources = discover_keypoint_inputs(given)
    if not sources:
        raise NothingAcceptedError(f"lift: no keypoint files in {given}")
    jobs = [ClipJob(source, Path(), 0.0, options, outputs.device) for source in sources]
    # One file (or OpenPose folder) is read now: if it cannot be lifted, the run fails before any model loads.
    single = read_clip(jobs[0]) if sources == [given] else None
    stage_run = lift_stage_run(workspace, checkpoint_manifest, sources, given, options, outputs, single is not None)
    existing = stage_run.existing()
    if existing is not None:
        return existing, False
    model_fps = training_frame_rate(workspace, checkpoint_manifest)
    checkpoint_file = local_output(workspace, checkpoint_manifest, CHECKPOINT_OUTPUT)
    jobs = [ClipJob(job.source, checkpoint_file, model_fps, options, outputs.device) for job in jobs]
    results = _lift_all(jobs, single, run)
    rejections = [result for result in results if isinstance(result, Rejection)]
    if len(rejections) == len(results) or (run.strict and rejections):
        raise NothingAcceptedError.citing(f"lift: {len(rejections)} of {len(jobs)} input(s) could not be lifted.",
                                          rejections)  # fmt: skip
    metadata = {"model_fps": model_fps, "checkpoint": checkpoint_manifest.id}
    return _publish(workspace, stage_run, results, single is not None, outputs, metadata), True


def _publish(workspace: Workspace, stage_run: StageRun, results: Sequence[LiftedResult | Rejection], single: bool,
             outputs: LiftRunOptions, metadata: Mapping[str, Any]) -> Manifest:  # fmt: skip
    """Write every lifted clip's files (a sub-folder per clip unless ``single``) and the rejected table; publish."""
    rejections = [result for result in results if isinstance(result, Rejection)]
    lifted = [result for result in results if isinstance(result, LiftedResult)]
    scratch = workspace.local_directory(CACHE_DIRECTORY, stage_run.id, "lift")
    shutil.rmtree(scratch, ignore_errors=True)
    with stage_run:
        published: dict[str, Any] = {}
        for result in lifted:
            for note in result.notes:
                print(terminal_text(f"lift: {note}"))
            prefix = "" if single else f"{clip_name(Path(result.clip.source))}/"
            written = write_clip(scratch / prefix, result.clip, video_suffix(outputs.video), outputs.bvh is not None)
            for name, path in written.items():
                destination = stage_run.directory / f"{prefix}{path.name}"
                published[f"{prefix}{name}"] = stage_run.file_output(copy_into(path, destination))
        write_parquet(stage_run.directory / "rejected.parquet", rejected_table(rejections))
        published["rejected"] = stage_run.file_output(stage_run.directory / "rejected.parquet")
        counts = {"inputs": len(results), "lifted": len(lifted), "rejected": len(rejections),
                  "frames": sum(len(result.clip.poses_3d) for result in lifted)}  # fmt: skip
        summary = _summary(counts, [result.clip.source for result in lifted], rejections)
        manifest = stage_run.publish(counts=counts, outputs=published, summary=summary, metadata=metadata)
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return manifest


def _copy_requested(workspace: Workspace, manifest: Manifest, outputs: LiftRunOptions) -> None:
    """Copy the version's videos and BVH files where ``--video`` / ``--bvh`` asked (a folder for many clips)."""
    for requested, kind in ((outputs.video, "video"), (outputs.bvh, "bvh")):
        if requested is None:
            continue
        made = sorted(name for name in manifest.outputs if name == kind or name.endswith(f"/{kind}"))
        for name in made:
            source = workspace.output_path(manifest, name)
            if name == kind:
                target = Path(requested)
            else:  # one per clip, in the folder asked for, named by the clip's file
                target = Path(requested) / f"{name.rsplit('/', 1)[0]}{source.suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            print(terminal_text(f"lift: wrote {target}"))


@flow(name=LIFT, log_prints=True)
def lift(
    checkpoint: str | None = None,
    keypoints: str | None = None,
    options: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    run: RunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """Lift a detector's 2D keypoints (a file or a folder of many) to 3D poses; returns the ``lift`` version.

    Example: ``lift(checkpoint="finetune", keypoints="clips/", options={"fps": 25})``; with neither
    ``checkpoint`` nor ``keypoints`` it lifts the demo detector file with the newest ``finetune`` checkpoint.

    Args:
        checkpoint: Checkpoint version (id or stage; default: the newest finetune version started from a
            pretrain version, else the newest finetune version).
        keypoints: A detector file, an OpenPose folder, or a folder of many inputs (default: the demo's file).
        options: ``LiftOptions`` fields (``pipelines.lift.options``): format, joint order, fps, image size, ...
        outputs: ``LiftRunOptions`` fields: where copies of the video and BVH go, the device.
        run: Workers, Dask address, strictness (``pipelines.convert.run_options.RunOptions``) for a folder of inputs.
        workspace: Workspace root.
    """
    workspace = Workspace(workspace)
    given = {key: value for key, value in (options or {}).items() if value is not None}
    if keypoints is None:
        demo_file, demo_options = demo_detections(workspace)
        keypoints, given = str(demo_file), {**demo_options, **given}
        print(terminal_text(f"lift: no --keypoints; lifting the demo detector file {demo_file}"))
    chosen = as_options(LiftOptions, given)
    written = as_options(LiftRunOptions, outputs)
    manifest, worked = lift_version(str(workspace.root), checkpoint, keypoints, chosen,
                                    written, as_options(RunOptions, run))  # fmt: skip
    _copy_requested(workspace, manifest, written)
    print(f"{LIFT}: {'published' if worked else 'reused'} version {manifest.id}")
    print(terminal_text(manifest.summary))
    viewers = [workspace.output_path(manifest, name) for name in sorted(manifest.outputs) if name.endswith("viewer")]
    for viewer in viewers[:3]:
        print(terminal_text(f"lift: open {viewer} in a browser to see the 2D input beside the 3D"))
    create_markdown_artifact(markdown=manifest.summary, key=LIFT, description=manifest.id)
    return manifest.id
