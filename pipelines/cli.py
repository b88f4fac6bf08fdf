"""The ``python flows.py`` command line: one subcommand per flow, plus version inspection.

Every subcommand parses its options, builds a typed config and starts a flow from ``pipelines``; heavy
imports (torch, prefect) happen inside the commands so that ``--help`` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datasets.workspace import WORKSPACE_ENVIRONMENT_VARIABLE, Manifest, VersionNotFoundError, Workspace

app = typer.Typer(
    name="flows.py",
    help=(
        "mocaplift: convert Human3.6M, MPI-INF-3DHP, HumanEva-I and AMASS into versioned pose stores, "
        "then pretrain, finetune and evaluate 2D-to-3D uplifting transformers on them.\n\n"
        "Every stage's output is a version in the workspace (see `versions` and `show`); rerunning a stage "
        "with the same inputs and config reuses its version."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        envvar=WORKSPACE_ENVIRONMENT_VARIABLE,
        help=f"Workspace directory holding every version (default ./workspace, or ${WORKSPACE_ENVIRONMENT_VARIABLE}).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DetectionsOption = Annotated[
    list[str] | None,
    typer.Option("--detections", help="Extra 2D file as NAME=FILE (repeatable); stored as keypoints_2d_NAME."),
]
StrictOption = Annotated[bool, typer.Option(help="Fail (publish nothing) if any item is rejected.")]

NOT_LANDED_EXIT_CODE = 2


def not_landed(command: str, issue: int, what: str) -> None:
    """Say in one line that a command's issue has not landed, and exit 2."""
    typer.echo(f"`{command}` ({what}) is not available in this version yet: it lands with issue #{issue}.", err=True)
    raise typer.Exit(NOT_LANDED_EXIT_CODE)


@app.command("versions")
def versions_command(
    stage: Annotated[str | None, typer.Argument(help="Only this stage, e.g. preprocess-amass.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List versions (oldest first) with their parents, counts and time."""
    manifests = Workspace(workspace).manifests(stage)
    if as_json:
        typer.echo(json.dumps([_summary_row(manifest) for manifest in manifests], indent=2))
        return
    if not manifests:
        where = Workspace(workspace).root
        typer.echo(f"No versions{f' of {stage}' if stage else ''} in {where}.")
        return
    header = f"{'version':<36} {'finished':<26} {'wall s':>8}  parents"
    typer.echo(header)
    typer.echo("-" * len(header))
    for manifest in manifests:
        parents = ", ".join(manifest.parents) or "-"
        typer.echo(f"{manifest.id:<36} {manifest.finished:<26} {manifest.wall_time_s:>8.1f}  {parents}")


def _summary_row(manifest: Manifest) -> dict:
    return {
        "id": manifest.id,
        "stage": manifest.stage,
        "parents": list(manifest.parents),
        "finished": manifest.finished,
        "wall_time_s": manifest.wall_time_s,
        "counts": dict(manifest.counts),
    }


@app.command("show")
def show_command(
    reference: Annotated[str, typer.Argument(help="Version id (or unique prefix), or a stage name for its newest.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a version's manifest: stage, parents, config, code, counts, outputs and checksums."""
    try:
        manifest = Workspace(workspace).resolve(reference)
    except VersionNotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=str))
        return
    typer.echo(f"version   {manifest.id}")
    typer.echo(f"stage     {manifest.stage}")
    typer.echo(f"parents   {', '.join(manifest.parents) or '-'}")
    code = manifest.code
    typer.echo(
        f"code      {str(code.get('commit'))[:12]}{' (dirty)' if code.get('dirty') else ''}, "
        f"fingerprint {str(code.get('fingerprint'))[:12]}"
    )
    typer.echo(f"run       {manifest.started} -> {manifest.finished} ({manifest.wall_time_s:.1f} s)")
    typer.echo("counts    " + ", ".join(f"{key} {value}" for key, value in manifest.counts.items()))
    typer.echo("outputs")
    for name, output in manifest.outputs.items():
        typer.echo(f"  {name:<12} {output.get('kind', '?'):<9} {output['path']}")
    typer.echo("config")
    for line in json.dumps(manifest.config, indent=2, sort_keys=True).splitlines():
        typer.echo(f"  {line}")
    if manifest.summary:
        typer.echo("")
        typer.echo(manifest.summary)


@app.command("preprocess-amass")
def preprocess_amass_command(
    amass_root: Annotated[
        Path | None,
        typer.Option(help="AMASS archive: <root>/<SubDataset>/<Subject>/*.npz. Default: licence-free demo data."),
    ] = None,
    body_models: Annotated[
        Path | None,
        typer.Option(help="Body models in AMASS's layout: smplh/<gender>/model.npz, smplx/SMPLX_<GENDER>.npz."),
    ] = None,
    regressor: Annotated[
        Path | None,
        typer.Option(help="17 x V vertex regressor .npy (e.g. J_regressor_h36m.npy). Default: body-model joints."),
    ] = None,
    regressor_order: Annotated[
        str, typer.Option(help="Row order of the regressor: spin (left leg first) or h36m.")
    ] = "spin",
    fps: Annotated[float, typer.Option(help="Target frame rate, Hz (Human3.6M: 50).")] = 50.0,
    cameras: Annotated[str, typer.Option(help="Virtual cameras: h36m (the four H36M ones) or random:K.")] = "h36m",
    unknown_gender: Annotated[
        str, typer.Option(help="Files whose gender is neither male nor female: reject, or pose with neutral.")
    ] = "reject",
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Glob of archive-relative paths to convert (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Glob of archive-relative paths to skip (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of random cameras (mixed with each file's path).")] = 0,
    device: Annotated[
        str, typer.Option(help="Torch device of the body model: auto (GPU when present), cpu or cuda.")
    ] = "auto",
    workers: Annotated[
        int | None, typer.Option(help="Local Dask workers (default: one per core). Not with --dask-address.")
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(envvar="DASK_SCHEDULER_ADDRESS", help="Run on an existing Dask cluster, e.g. tcp://host:8786."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Publish nothing if any file is rejected.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """AMASS archive -> versioned pose store of Human3.6M joints seen by virtual cameras.

    Each file goes through the body model (SMPL+H or SMPL-X), the joint regressor, resampling to --fps and
    projection into the virtual cameras, as one Dask task. Bad files are listed in the version's rejected
    table; the rest converts.

    Example: python flows.py preprocess-amass --amass-root /data/AMASS --body-models /data/body_models
    --regressor /data/J_regressor_h36m.npy --regressor-order spin --cameras h36m
    """
    from pipelines.amass import preprocess_amass

    _run_flow(
        preprocess_amass,
        amass_root=_optional_str(amass_root), body_models=_optional_str(body_models),
        regressor=_optional_str(regressor), regressor_order=regressor_order, fps=fps, cameras=cameras,
        unknown_gender=unknown_gender, include=include, exclude=exclude, seed=seed, device=device,
        workers=workers, dask_address=dask_address, strict=strict, workspace=_optional_str(workspace),
    )  # fmt: skip


@app.command("preprocess-h36m")
def preprocess_h36m_command(
    source: Annotated[
        Path | None,
        typer.Option(
            help="Folder with data_3d_h36m.npz (+ data_2d_h36m_*.npz) or S*/MyPoseFeatures/D3_Positions/*.cdf. "
            "Default: licence-free demo data."
        ),
    ] = None,
    detections: DetectionsOption = None,
    source_format: Annotated[
        str | None, typer.Option("--format", help="videopose3d or cdf (default: detected).")
    ] = None,
    strict: StrictOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Human3.6M (VideoPose3D npz or original CDF files) -> versioned pose store.

    Example: python flows.py preprocess-h36m --source /data/h36m --detections cpn=/data/data_2d_h36m_cpn_ft_h36m_dbb.npz
    """
    from pipelines.preprocess import preprocess_h36m

    pairs = _name_file_pairs(detections or [], "--detections")
    _run_flow(
        preprocess_h36m,
        source=_optional_str(source), detections=pairs, format=source_format,
        workspace=_optional_str(workspace), strict=strict,
    )  # fmt: skip


@app.command("preprocess-3dhp")
def preprocess_3dhp_command(
    source: Annotated[
        Path | None,
        typer.Option(
            help="Folder with S*/Seq*/annot.mat (+ camera.calibration) and/or TS*/annot_data.mat, or "
            "data_train_3dhp.npz / data_test_3dhp.npz. Default: licence-free demo data."
        ),
    ] = None,
    source_format: Annotated[str | None, typer.Option("--format", help="mat or npz (default: detected).")] = None,
    cameras: Annotated[
        list[int] | None,
        typer.Option("--camera", help="Training camera index 0..13 (repeatable); default the 8 commonly used."),
    ] = None,
    annotation: Annotated[str, typer.Option(help="univ_annot3 (evaluation ground truth) or annot3.")] = "univ_annot3",
    strict: StrictOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """MPI-INF-3DHP (annot.mat / annot_data.mat or the preprocessed npz) -> versioned pose store.

    Example: python flows.py preprocess-3dhp --source /data/mpi_inf_3dhp
    """
    from pipelines.preprocess import preprocess_3dhp

    _run_flow(
        preprocess_3dhp,
        source=_optional_str(source), format=source_format, cameras=cameras, annotation=annotation,
        workspace=_optional_str(workspace), strict=strict,
    )  # fmt: skip


@app.command("preprocess-humaneva")
def preprocess_humaneva_command(
    source: Annotated[
        Path | None,
        typer.Option(
            help="Folder with data_3d_humaneva15.npz (+ data_2d_humaneva15_*.npz) or the MATLAB export. "
            "Default: licence-free demo data."
        ),
    ] = None,
    detections: DetectionsOption = None,
    source_format: Annotated[
        str | None, typer.Option("--format", help="videopose3d or mat (default: detected).")
    ] = None,
    strict: StrictOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """HumanEva-I (VideoPose3D npz or the MATLAB export) -> versioned pose store.

    Example: python flows.py preprocess-humaneva --source /data/humaneva
    """
    from pipelines.preprocess import preprocess_humaneva

    pairs = _name_file_pairs(detections or [], "--detections")
    _run_flow(
        preprocess_humaneva,
        source=_optional_str(source), detections=pairs, format=source_format,
        workspace=_optional_str(workspace), strict=strict,
    )  # fmt: skip


@app.command("export")
def export_command(
    reference: Annotated[str, typer.Argument(help="Version id (or prefix) or stage name of a pose store.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the exported files.")],
    export_format: Annotated[str, typer.Option("--format", help="Export format: videopose3d.")] = "videopose3d",
    workspace: WorkspaceOption = None,
) -> None:
    """Write a pose store back as VideoPose3D-style npz files, for existing codebases.

    Example: python flows.py export preprocess-h36m --format videopose3d --out exported/
    """
    from datasets.store import open_store
    from datasets.videopose3d import export_videopose3d

    if export_format != "videopose3d":
        typer.echo(f"Unknown export format {export_format!r}; available: videopose3d.", err=True)
        raise typer.Exit(2)
    try:
        store = open_store(workspace, reference)
    except (VersionNotFoundError, KeyError) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    for path in export_videopose3d(store, out):
        typer.echo(f"wrote {path}")


ModelOption = Annotated[str, typer.Option(help="Model: uplift-upsample, mixste, strided, mixste-tmt, strided-tmt.")]
PresetOption = Annotated[str | None, typer.Option(help="Model preset under presets/models/<model>/ (default: demo).")]
TrainingPresetOption = Annotated[
    str, typer.Option(help="Training preset under presets/training/ (demo, uplift-upsample-h36m-351, ...).")
]
EpochsOption = Annotated[int | None, typer.Option(help="Override the preset's number of epochs.")]
MaxStepsOption = Annotated[int | None, typer.Option(help="Stop after this many optimiser steps (smoke runs).")]
DeviceOption = Annotated[str, typer.Option(help="auto (GPU when present), cpu, cuda or cuda:N.")]
ResumeOption = Annotated[
    bool, typer.Option(help="Continue an interrupted run of the same version from its last checkpoint.")
]


@app.command("pretrain")
def pretrain_command(
    data: Annotated[
        str | None, typer.Option(help="Pose store version (id or stage). Default: newest preprocess-amass, or demo.")
    ] = None,
    model: ModelOption = "uplift-upsample",
    preset: PresetOption = None,
    training_preset: TrainingPresetOption = "demo",
    epochs: EpochsOption = None,
    max_steps: MaxStepsOption = None,
    device: DeviceOption = "auto",
    resume: ResumeOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Pretrain an uplifting transformer on a pose store (AMASS) -> checkpoint version.

    Example: python flows.py pretrain --model uplift-upsample --preset h36m-351
    --training-preset uplift-upsample-h36m-351 --device cuda
    Multi-GPU: torchrun --nproc_per_node=N flows.py pretrain ...
    """
    from pipelines.training import pretrain

    _run_flow(pretrain, data=data, model=model, preset=preset, training_preset=training_preset, epochs=epochs,
              max_steps=max_steps, device=device, resume=resume, workspace=_optional_str(workspace))  # fmt: skip


@app.command("finetune")
def finetune_command(
    data: Annotated[
        str | None, typer.Option(help="Target pose store version. Default: newest preprocess-h36m, or demo.")
    ] = None,
    init: Annotated[
        str | None, typer.Option(help="Checkpoint version to start from (e.g. pretrain). Default: from scratch.")
    ] = None,
    model: ModelOption = "uplift-upsample",
    preset: PresetOption = None,
    training_preset: TrainingPresetOption = "demo",
    epochs: EpochsOption = None,
    max_steps: MaxStepsOption = None,
    device: DeviceOption = "auto",
    resume: ResumeOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Finetune a checkpoint (or train from scratch) on a target pose store -> checkpoint version.

    Example: python flows.py finetune --init pretrain --data preprocess-h36m
    """
    from pipelines.training import finetune

    _run_flow(finetune, data=data, init=init, model=model, preset=preset, training_preset=training_preset,
              epochs=epochs, max_steps=max_steps, device=device, resume=resume,
              workspace=_optional_str(workspace))  # fmt: skip


@app.command("pretrain-finetune")
def pretrain_finetune_command(
    model: ModelOption = "uplift-upsample",
    preset: PresetOption = None,
    training_preset: TrainingPresetOption = "demo",
    pretrain_data: Annotated[
        str | None, typer.Option(help="AMASS store version. Default: newest preprocess-amass, or the demo.")
    ] = None,
    finetune_data: Annotated[
        str | None, typer.Option(help="Target store version. Default: newest preprocess-h36m, or the demo.")
    ] = None,
    epochs: EpochsOption = None,
    max_steps: MaxStepsOption = None,
    device: DeviceOption = "auto",
    workspace: WorkspaceOption = None,
) -> None:
    """Pretrain on AMASS, finetune on the target, and compare with training from scratch.

    With no data arguments: builds the licence-free demo data, preprocesses it, pretrains, finetunes both ways,
    evaluates both and prints the comparison table. Every stage is a version; a rerun reuses them all.
    """
    from pipelines.batch import NothingAcceptedError
    from pipelines.training import pretrain_finetune

    try:
        pretrain_finetune(model=model, preset=preset, training_preset=training_preset, pretrain_data=pretrain_data,
                          finetune_data=finetune_data, epochs=epochs, max_steps=max_steps, device=device,
                          workspace=_optional_str(workspace))  # fmt: skip
    except (NothingAcceptedError, FileNotFoundError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@app.command("evaluate")
def evaluate_command(
    checkpoint: Annotated[str, typer.Option(help="Checkpoint version (id or stage).")] = "finetune",
    data: Annotated[
        str | None, typer.Option(help="Pose store version. Default: newest preprocess-h36m, or the demo.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split evaluated.")] = "test",
    preset: Annotated[str | None, typer.Option(help="Evaluation preset under presets/evaluation/.")] = None,
    device: DeviceOption = "auto",
    workspace: WorkspaceOption = None,
) -> None:
    """Evaluate a checkpoint on a pose store with the published protocols -> metrics version (report.md, plots).

    Human3.6M: MPJPE (P1), P-MPJPE (P2), N-MPJPE, MPJVE per action; MPI-INF-3DHP: PCK@150 mm, AUC, MPJPE per
    activity; HumanEva-I: per subject and action.
    """
    from pipelines.training import evaluate_flow

    _run_flow(evaluate_flow, checkpoint=checkpoint, data=data, split=split, preset=preset, device=device,
              workspace=_optional_str(workspace))  # fmt: skip


@app.command("serve")
def serve_command(
    workspace: WorkspaceOption = None,
    limit: Annotated[int | None, typer.Option(help="Most flow runs executed at once.")] = None,
) -> None:
    """Register a Prefect deployment for every flow and execute their runs until interrupted (Ctrl-C).

    Deployments are named FLOW/FLOW, e.g. preprocess-amass/preprocess-amass. With a Prefect server running
    (prefect server start), start this, then: prefect deployment run preprocess-amass/preprocess-amass
    """
    from pipelines.serve import serve_all

    serve_all(workspace=_optional_str(workspace), limit=limit)


@app.command("model-info")
def model_info_command(
    model: Annotated[str, typer.Argument(help="Model name: uplift-upsample, mixste, strided, mixste-tmt, ...")],
    preset: Annotated[str, typer.Option(help="Preset under presets/models/<model>/ (the papers' or demo).")] = "demo",
) -> None:
    """Print a model's parameters, FLOPs per forward and per output frame, and its input/output shapes.

    Example: python flows.py model-info uplift-upsample --preset h36m-351
    """
    from lifting.models import MODELS, available_presets, format_model_info, model_info

    if model not in MODELS:
        typer.echo(f"Unknown model {model!r}; choose one of {', '.join(sorted(MODELS))}.", err=True)
        raise typer.Exit(1)
    if preset not in available_presets(model):
        typer.echo(f"No preset {preset!r} for {model}; choose one of {', '.join(available_presets(model))}.", err=True)
        raise typer.Exit(1)
    typer.echo(format_model_info(model_info(model, preset)))


def _optional_str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _name_file_pairs(values: list[str], option: str) -> dict[str, str]:
    """Parse repeated ``NAME=FILE`` options, failing with the option's name on a malformed one."""
    pairs = {}
    for value in values:
        name, separator, path = value.partition("=")
        if not separator or not name or not path:
            typer.echo(f"{option} expects NAME=FILE, got {value!r}.", err=True)
            raise typer.Exit(2)
        if not Path(path).is_file():
            typer.echo(f"{option} {name}: {path} does not exist.", err=True)
            raise typer.Exit(2)
        pairs[name] = path
    return pairs


def _run_flow(flow_function, **parameters) -> None:
    """Run a flow; turn the library's clear input errors into one message and exit 1 (no traceback)."""
    from pipelines.batch import NothingAcceptedError

    try:
        version = flow_function(**parameters)
    except (NothingAcceptedError, FileNotFoundError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"version {version}")


def main() -> None:
    """Entry point of ``python flows.py`` and the ``mocaplift`` console script."""
    app()
