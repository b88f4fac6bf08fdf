"""The body of the ``train`` task: a training version's id, its training (every torchrun rank), its publication.

    manifest = train_or_reuse(Workspace(root), TrainingJob("pretrain", data_id, None, "mixste", "demo", "demo",
                                                           config, "auto", resume=False))

In order: ``training_stage_run`` derives the version id from what changes the weights (data, initial
checkpoint, model and training config, resolved precision); an existing version is reused. Otherwise every
process trains (``lifting.training.train``; under torchrun each rank its share) into
``<workspace>/cache/<version>/train``, rank 0 alone copies the files and publishes the manifest, and the
other ranks learn its id from rank 0 (``broadcast_from_main``) rather than watching the registry.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datasets.config import split_runtime
from datasets.storage import Location, write_atomically
from datasets.store.integrity import check_file, open_verified_store
from datasets.units import MILLIMETRES_PER_METRE
from datasets.workspace import Manifest, Workspace
from pipelines.convert.conversion import CACHE_DIRECTORY
from pipelines.errors import TrainingInterrupted
from pipelines.lineage.code_identity import model_stage_code_identity
from pipelines.lineage.versioning import StageRun

if TYPE_CHECKING:
    from lifting.training import TrainingConfig


@dataclass(frozen=True)
class TrainingJob:
    """One training stage as a flow asks for it.

    Attributes:
        stage: ``"pretrain"`` or ``"finetune"``.
        data: The pose store's version (id or stage name).
        init: The checkpoint version to start from (finetuning), or None.
        model: Key of ``lifting.models.MODELS``.
        model_preset: Its preset.
        training_preset: The training preset ``config`` came from (recorded in the version's config).
        config: The resolved ``lifting.training.TrainingConfig``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        resume: Continue the cached run of this version from its last checkpoint.
    """

    stage: str
    data: str
    init: str | None
    model: str
    model_preset: str
    training_preset: str
    config: TrainingConfig
    device: str
    resume: bool


CHECKPOINT_OUTPUT = "checkpoint_best"
"""The output of a checkpoint version that ``finetune --init``, ``evaluate`` and ``lift`` read (trained or imported)."""

def copy_into(source: Path, destination: Location) -> Location:
    """Copy a local file into a workspace location (a directory or object storage); returns ``destination``."""
    write_atomically(destination, lambda handle: handle.write(source.read_bytes()))
    return destination


def local_output(workspace: Workspace, manifest: Manifest, name: str) -> Path:
    """A version's file output as a local file, refused if its bytes differ from the manifest's SHA-256.

    Remote outputs are downloaded once into the local cache; the file checked is the one that will be read.
    Checked as stores are (``datasets.store.integrity.check_file``: hashed when first used, again only after
    the file changes), so a checkpoint or metrics file replaced after publication never feeds a new version
    whose lineage would record the original's checksum.

    Raises:
        FileIntegrityError: the file differs from its manifest (one line naming the version and the file).
    """
    location = workspace.output_path(manifest, name)
    if isinstance(location, Path):
        local = location
    else:
        local = workspace.local_directory("downloads", manifest.id, location.name)
        if not local.exists():
            write_atomically(local, lambda handle: handle.write(location.read_bytes()))
    check_file(local, manifest.outputs[name], manifest.id)
    return local


def training_stage_run(workspace: Workspace, job: TrainingJob, data: Manifest, init: Manifest | None) -> StageRun:
    """The version a job makes: id from data, initial checkpoint, model, hashed config and resolved precision."""
    from lifting.models import load_model_config
    from lifting.training.distributed import run_precision
    from lifting.training.model_interface import model_config_to_dict

    hashed, runtime = split_runtime(job.config)  # the fields marked runtime_field are recorded, not hashed
    hashed["precision"] = run_precision(job.config.precision, job.device)  # "auto" differs
    parents = [data.id] + ([init.id] if init else [])
    reads = {data.id: ("store",), **({init.id: (CHECKPOINT_OUTPUT,)} if init else {})}
    return StageRun(
        workspace, job.stage, parents=parents, reads=reads, code=model_stage_code_identity(job.stage, job.model),
        config={"model": job.model, "model_preset": job.model_preset, "training_preset": job.training_preset,
                "training": hashed,
                "model_config": model_config_to_dict(load_model_config(job.model, job.model_preset))},
        runtime={"device": job.device, **runtime},
    )  # fmt: skip


def training_summary(job: TrainingJob, result: Any) -> str:
    """The version's Markdown summary: epochs, steps, last loss, best validation MPJPE (mm), data."""
    loss, best = result.last_epoch_loss, result.best_validation_mpjpe
    return (
        f"## {job.stage}\n\nmodel {job.model} ({job.model_preset}), {result.epochs_completed} epochs, "
        f"{result.global_step} steps"
        + (f", last epoch loss {loss:.4f}" if loss is not None else "")
        + (f", best validation MPJPE {best * MILLIMETRES_PER_METRE:.1f} mm" if best is not None else "")
        + f"\n\ndata: {result.data}"
    )


def publish_training(run: StageRun, job: TrainingJob, result: Any, working: Path) -> Manifest:
    """Copy a finished run's checkpoints, metrics and TensorBoard events into the version and publish it."""
    from lifting.training import BEST_CHECKPOINT, LAST_CHECKPOINT, METRICS_FILE, TENSORBOARD_DIRECTORY

    # A run stopped by max_steps before its first validation has no best checkpoint yet: train() then names
    # the last one as the best, so publish the files it names.
    sources = {CHECKPOINT_OUTPUT: (result.checkpoint_best, BEST_CHECKPOINT),
               "checkpoint_last": (result.checkpoint_last, LAST_CHECKPOINT),
               "metrics": (working / METRICS_FILE, METRICS_FILE)}  # fmt: skip
    outputs = {name: run.file_output(copy_into(source, run.directory / file_name))
               for name, (source, file_name) in sources.items()}  # fmt: skip
    for event_file in sorted((working / TENSORBOARD_DIRECTORY).rglob("*")):
        if event_file.is_file():
            copy_into(event_file, run.directory / event_file.relative_to(working).as_posix())
    outputs["tensorboard"] = {"kind": "directory", "path": run.relative(run.directory / TENSORBOARD_DIRECTORY)}
    return run.publish(
        counts={"epochs": result.epochs_completed, "steps": result.global_step}, outputs=outputs,
        summary=training_summary(job, result), metadata={"best_validation_mpjpe_m": result.best_validation_mpjpe},
    )  # fmt: skip


def _train_this_rank(
    workspace: Workspace, job: TrainingJob, run: StageRun, parents: tuple[Manifest, Manifest | None], is_main: bool
) -> Manifest | None:
    """Train (every rank); rank 0 also publishes, inside ``with run`` (its wall time covers the training)."""
    from lifting.training import train

    data, init = parents
    working = workspace.local_directory(CACHE_DIRECTORY, run.id, "train")
    store = open_verified_store(workspace, data.id)  # refuses a store that differs from its manifest
    init_checkpoint = local_output(workspace, init, CHECKPOINT_OUTPUT) if init else None
    with run if is_main else contextlib.nullcontext():
        result = train(job.model, job.model_preset, store, store, job.config, working,
                       init_checkpoint=init_checkpoint, resume=job.resume, device=job.device)  # fmt: skip
        if result.status == "interrupted":
            raise TrainingInterrupted(
                f"{job.stage} was interrupted after {result.global_step} steps; its checkpoint is in {working}. "
                f"Run the same command with --resume to continue."
            )
        return publish_training(run, job, result, working) if is_main else None


def train_or_reuse(workspace: Workspace, job: TrainingJob) -> Manifest:
    """The job's version: reused if published, else trained on every rank and published by rank 0."""
    from lifting.training.distributed import broadcast_from_main, setup_distributed, teardown_distributed

    data, init = workspace.resolve(job.data), workspace.resolve(job.init) if job.init else None
    run = training_stage_run(workspace, job, data, init)
    existing = run.existing()
    if existing is not None:
        print(f"{job.stage}: reused version {existing.id}")
        return existing
    working = workspace.local_directory(CACHE_DIRECTORY, run.id, "train")  # also _train_this_rank's
    if not job.resume:
        shutil.rmtree(working, ignore_errors=True)
    context = setup_distributed(job.device)  # the process group, if any, outlives train() for the hand-off
    published: Manifest | None = None
    try:
        try:
            published = _train_this_rank(workspace, job, run, (data, init), context.is_main)
        finally:  # every rank joins the broadcast once, also when its training failed
            version = broadcast_from_main(context, None if published is None else published.id)
    finally:
        teardown_distributed(context)
    if version is None:
        raise RuntimeError(f"{job.stage}: rank 0 published no version (see its log)")
    if published is not None:  # rank 0
        shutil.rmtree(working.parent, ignore_errors=True)
        print(published.summary)
        return published
    manifest = workspace.get(version)
    if manifest is None:
        raise RuntimeError(f"rank 0 published {version}, which this rank cannot read in {workspace.root}: "
                           "every rank must see the same workspace")  # fmt: skip
    return manifest
