"""``preprocess-*`` commands: each parses its options and starts the conversion flow of one dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import (
    DetectionsOption,
    StrictOption,
    WorkspaceOption,
    app,
    check_workers,
    fail,
    name_file_pairs,
    optional_str,
    run_flow,
)


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
    preset: Annotated[
        str, typer.Option(help="Settings from presets/amass/<preset>.yaml (default, random-cameras) or a YAML file.")
    ] = "default",
    regressor_order: Annotated[
        str | None, typer.Option(help="Row order of the regressor: spin (left leg first) or h36m. Preset: spin.")
    ] = None,
    fps: Annotated[float | None, typer.Option(help="Target frame rate, Hz. Preset: 50 (Human3.6M's).")] = None,
    placement: Annotated[
        str | None,
        typer.Option(
            help="Where sequences go in the H36M world: as_recorded (AMASS coordinates, as Uplift-and-Upsample) "
            "or start_at_origin (first-frame pelvis at x = y = 0). Preset: as_recorded (docs/amass.md)."
        ),
    ] = None,
    cameras: Annotated[
        str | None, typer.Option(help="Virtual cameras: h36m (the four H36M ones) or random:K. Preset: h36m.")
    ] = None,
    unknown_gender: Annotated[
        str | None,
        typer.Option(help="Files whose gender is neither male nor female: reject, or neutral. Preset: reject."),
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option("--include", help="Glob of archive-relative paths to convert (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Glob of archive-relative paths to skip (repeatable).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of random cameras (mixed with each file's path).")] = None,
    device: Annotated[
        str | None, typer.Option(help="Torch device of the body model: auto (GPU when present), cpu or cuda.")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local workers: 1 converts in this process, N > 1 forks N (default: one per core). "
            "Not with --dask-address."
        ),
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
    projection into the virtual cameras, as one task. Bad files are listed in the version's rejected
    table; the rest converts.

    Example: python flows.py preprocess-amass --amass-root /data/AMASS --body-models /data/body_models
    --regressor /data/J_regressor_h36m.npy --regressor-order spin --cameras h36m
    """
    check_workers(workers)
    if regressor is not None:
        _check_regressor(regressor)
    run_flow(
        "preprocess-amass",
        amass_root=optional_str(amass_root), body_models=optional_str(body_models),
        regressor=optional_str(regressor), preset=preset, regressor_order=regressor_order, fps=fps,
        placement=placement, cameras=cameras,
        unknown_gender=unknown_gender, include=include, exclude=exclude, seed=seed, device=device,
        workers=workers, dask_address=dask_address, strict=strict, workspace=optional_str(workspace),
    )  # fmt: skip


def _check_regressor(path: Path) -> None:
    """Refuse a missing or unreadable ``--regressor`` before the flow starts (``load_regressor``'s checks)."""
    from datasets.amass.regressor import REGRESSOR_ORDERS, load_regressor

    if not path.is_file():
        fail(f"--regressor {path} does not exist.")
    try:
        load_regressor(path, REGRESSOR_ORDERS[0])  # the order only permutes rows: any order checks the file
    except ValueError as error:
        fail(f"--regressor: {error}")


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
    pairs = name_file_pairs(detections or [], "--detections")
    run_flow(
        "preprocess-h36m",
        source=optional_str(source), detections=pairs, format=source_format,
        workspace=optional_str(workspace), strict=strict,
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
    run_flow(
        "preprocess-3dhp",
        source=optional_str(source), format=source_format, cameras=cameras, annotation=annotation,
        workspace=optional_str(workspace), strict=strict,
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
    pairs = name_file_pairs(detections or [], "--detections")
    run_flow(
        "preprocess-humaneva",
        source=optional_str(source), detections=pairs, format=source_format,
        workspace=optional_str(workspace), strict=strict,
    )  # fmt: skip
