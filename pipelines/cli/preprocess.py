"""``preprocess-*`` commands: each parses its options and starts the conversion flow of one dataset.

The options are generated from the conversions' config dataclasses (``pipelines.cli.options``): the fields
of ``datasets.amass.config.AmassConfig`` / ``datasets.benchmark_config`` and
``pipelines.convert.run_options.RunOptions`` are the only place an option, its type, default and help are declared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from datasets.amass.config import DEFAULT_PRESET, REGRESSOR_ORDERS, AmassConfig
from datasets.benchmark_config import H36mConversionConfig, HumanEvaConversionConfig, Mpi3dhpConversionConfig
from pipelines.cli.common import WorkspaceOption, fail, flow_command, optional_str, run_flow
from pipelines.cli.options import OptionGroup, with_options
from pipelines.convert.run_options import RunOptions
from pipelines.stage_names import PREPROCESS_3DHP, PREPROCESS_AMASS, PREPROCESS_H36M, PREPROCESS_HUMANEVA


@flow_command(PREPROCESS_AMASS)
@with_options(options=OptionGroup(AmassConfig, "amass", DEFAULT_PRESET), run=OptionGroup(RunOptions))
def preprocess_amass_command(
    preset: Annotated[
        str, typer.Option(help="Settings from presets/amass/<preset>.yaml (default, random-cameras) or a YAML file.")
    ] = DEFAULT_PRESET,
    workspace: WorkspaceOption = None,
    *,
    options: dict[str, Any],
    run: dict[str, Any],
) -> None:
    """AMASS archive -> versioned pose store of Human3.6M joints seen by virtual cameras.

    Each file goes through the body model (SMPL+H or SMPL-X), the joint regressor, resampling to --fps and
    projection into the virtual cameras, as one task. Bad files are listed in the version's rejected
    table; the rest converts. Options not given take the preset's value. With none of --amass-root,
    --body-models and --regressor, it converts the licence-free demo data.

    Example: python flows.py preprocess-amass --amass-root /data/AMASS --body-models /data/body_models
    --regressor /data/J_regressor_h36m.npy --regressor-order spin --cameras h36m
    """
    if options.get("regressor") is not None:
        _check_regressor(Path(options["regressor"]))
    from pipelines.convert.amass import preprocess_amass

    run_flow(preprocess_amass, preset=preset, options=options, run=run, workspace=optional_str(workspace))


def _check_regressor(path: Path) -> None:
    """Refuse a missing or unreadable ``--regressor`` before the flow starts (``load_regressor``'s checks)."""
    from datasets.amass.regressor import load_regressor

    if not path.is_file():
        fail(f"--regressor {path} does not exist.")
    try:
        load_regressor(path, REGRESSOR_ORDERS[0])  # the order only permutes rows: any order checks the file
    except ValueError as error:
        fail(f"--regressor: {error}")


STRICT_ONLY = OptionGroup(RunOptions, exclude=("workers", "dask_address"))
"""The benchmark conversions read one folder in one process: of the run options only --strict applies."""


@flow_command(PREPROCESS_H36M)
@with_options(options=OptionGroup(H36mConversionConfig), run=STRICT_ONLY)
def preprocess_h36m_command(workspace: WorkspaceOption = None, *, options: dict[str, Any], run: dict[str, Any]) -> None:
    """Human3.6M (VideoPose3D npz or original CDF files) -> versioned pose store.

    Example: python flows.py preprocess-h36m --source /data/h36m --detections cpn=/data/data_2d_h36m_cpn_ft_h36m_dbb.npz
    """
    from pipelines.convert.benchmarks import preprocess_h36m

    run_flow(preprocess_h36m, options=options, run=run, workspace=optional_str(workspace))


@flow_command(PREPROCESS_3DHP)
@with_options(options=OptionGroup(Mpi3dhpConversionConfig), run=STRICT_ONLY)
def preprocess_3dhp_command(workspace: WorkspaceOption = None, *, options: dict[str, Any], run: dict[str, Any]) -> None:
    """MPI-INF-3DHP (annot.mat / annot_data.mat or the preprocessed npz) -> versioned pose store.

    Example: python flows.py preprocess-3dhp --source /data/mpi_inf_3dhp --cameras 0 --cameras 1 --cameras 2
    """
    from pipelines.convert.benchmarks import preprocess_3dhp

    run_flow(preprocess_3dhp, options=options, run=run, workspace=optional_str(workspace))


@flow_command(PREPROCESS_HUMANEVA)
@with_options(options=OptionGroup(HumanEvaConversionConfig), run=STRICT_ONLY)
def preprocess_humaneva_command(
    workspace: WorkspaceOption = None, *, options: dict[str, Any], run: dict[str, Any]
) -> None:
    """HumanEva-I (VideoPose3D npz or the MATLAB export) -> versioned pose store.

    Example: python flows.py preprocess-humaneva --source /data/humaneva
    """
    from pipelines.convert.benchmarks import preprocess_humaneva

    run_flow(preprocess_humaneva, options=options, run=run, workspace=optional_str(workspace))
