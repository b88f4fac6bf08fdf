"""The ``import-checkpoint`` flow: an author's released weights file -> a checkpoint version.

    version = import_checkpoint("h36m_351.h5", model="uplift-upsample", preset="h36m-351")

The version's id follows the file's content (SHA-256), the model, its preset and resolved config, the training
preset, the frame rate the released model was trained at (``fps``, what ``lift`` resamples keypoints to) and the
importer's code (``pipelines.lineage.code_identity``, stage ``import-checkpoint``: ``lifting.released`` and
the model's modules), so importing the same file again reuses it wherever the file lies. Its one output,
``checkpoint_best``, is what ``finetune --init``, ``evaluate --checkpoint`` and ``lift --checkpoint`` read from a
trained version; it has no ``metrics`` (nothing was trained). The reading, mapping and checking are
``lifting.released.import_released``.

Served like every flow (``pipelines.serve.FLOWS``), it is the one whose parameters have no working default: a
run without the file, the model and the preset stops with one line saying what to give.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from datasets.config import load_config, to_jsonable
from datasets.escaping import markdown_text, terminal_text
from datasets.workspace import Manifest, Workspace
from pipelines.convert.conversion import CACHE_DIRECTORY
from pipelines.lineage.code_identity import model_stage_code_identity
from pipelines.lineage.file_hashes import FileHashes
from pipelines.lineage.versioning import StageRun
from pipelines.orchestration import flow, publish_summary, task
from pipelines.stage_names import IMPORT_CHECKPOINT as STAGE
from pipelines.train.publish import CHECKPOINT_OUTPUT, copy_into


def import_stage_run(workspace: Workspace, source: Path, model: str, preset: str, training_preset: str) -> StageRun:
    """The version importing ``source`` makes: id from its SHA-256, model, preset, configs and the importer's code."""
    from lifting.models import load_model_config
    from lifting.released import RELEASED_FORMATS
    from lifting.training import TrainingConfig
    from lifting.training.model_interface import model_config_to_dict

    released = RELEASED_FORMATS[model]
    with FileHashes.of_workspace(workspace) as hashes:  # a released file of 100 MB is read once, not per run
        source_sha256 = hashes.sha256(source)
    return StageRun(
        workspace, STAGE, inputs={"source_sha256": source_sha256}, code=model_stage_code_identity(STAGE, model),
        config={"model": model, "model_preset": preset, "training_preset": training_preset,
                "model_config": model_config_to_dict(load_model_config(model, preset)),
                "training": to_jsonable(load_config(TrainingConfig, "training", training_preset)),
                "released": {"repository": released.repository, "files": released.files},
                "fps": released.frame_rate},
        runtime={"source": str(source)},
    )  # fmt: skip


@task(name=STAGE)
def import_checkpoint_version(workspace: str, source: str, model: str, preset: str,
                              training_preset: str | None) -> Manifest:  # fmt: skip
    """Reuse or import and publish a checkpoint version (``lifting.released.import_released``)."""
    from lifting.released import RELEASED_FORMATS, default_training_preset, import_released
    from lifting.training import BEST_CHECKPOINT
    from lifting.training.checkpoint import save_checkpoint

    if model not in RELEASED_FORMATS:
        raise ValueError(f"no released format known for --model {model}; importable: {', '.join(RELEASED_FORMATS)}")
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file (missing, a folder, a pipe or a device); give the released "
                         f"weights file ({RELEASED_FORMATS[model].files})")  # fmt: skip
    workspace = Workspace(workspace)
    training_preset = training_preset or default_training_preset(model, preset)
    run = import_stage_run(workspace, path, model, preset, training_preset)
    existing = run.existing()
    if existing is not None:
        print(f"{STAGE}: reused version {existing.id}")
        return existing
    scratch = workspace.local_directory(CACHE_DIRECTORY, run.id, "import") / BEST_CHECKPOINT
    scratch.parent.mkdir(parents=True, exist_ok=True)
    with run:
        imported = import_released(path, model, preset, training_preset)
        save_checkpoint(scratch, imported.checkpoint)
        output = run.file_output(copy_into(scratch, run.directory / BEST_CHECKPOINT))
        left_out = f"; left out: {markdown_text(', '.join(imported.left_out))}" if imported.left_out else ""
        summary = (f"## {STAGE}\n\n{model} ({markdown_text(preset)}) from {markdown_text(path.name)} "
                   f"({RELEASED_FORMATS[model].repository}), {imported.parameters:,} parameters{left_out}")  # fmt: skip
        manifest = run.publish(counts={"parameters": imported.parameters}, outputs={CHECKPOINT_OUTPUT: output},
                               summary=summary, metadata={"left_out": list(imported.left_out)})  # fmt: skip
    shutil.rmtree(scratch.parents[1], ignore_errors=True)
    print(terminal_text(manifest.summary))
    return manifest


@flow(name=STAGE, log_prints=True)
def import_checkpoint(
    source: str | None = None,
    model: str | None = None,
    preset: str | None = None,
    training_preset: str | None = None,
    workspace: str | None = None,
) -> str:
    """Import an author's released weights file as a checkpoint version; returns the version id.

    Args:
        source: The released file: Uplift-and-Upsample ``.h5``, MixSTE ``.bin``, Strided Transformer ``.pth``.
        model: ``uplift-upsample``, ``mixste`` or ``strided``.
        preset: The model preset of the released config (e.g. ``h36m-351``), or a preset YAML file.
        training_preset: Training preset recorded with it (default ``<model>-<preset>``).
        workspace: Workspace root.
    """
    if source is None or model is None or preset is None:
        raise ValueError(f"{STAGE} needs the released file, --model and --preset (source={source!r}, model={model!r}, "
                         f"preset={preset!r}), e.g. h36m_351.h5 --model uplift-upsample --preset h36m-351")  # fmt: skip
    root = str(Workspace(workspace).root)
    return publish_summary(import_checkpoint_version(root, source, model, preset, training_preset))
