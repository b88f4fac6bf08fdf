"""Training commands: ``pretrain``, ``finetune``, ``pretrain-finetune`` and ``evaluate``.

What to train (model, presets, budget) and how to run (device, resume, refresh) are generated from
``pipelines.training_options`` (``pipelines.cli.options``); only the version references each command reads
(``--data``, ``--init``, ...) are declared here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipelines.cli.common import WorkspaceOption, app, optional_str, run_flow
from pipelines.cli.options import OptionGroup, with_options
from pipelines.training_options import TrainingOptions, TrainingRunOptions

TRAINING = OptionGroup(TrainingOptions)
RUN = OptionGroup(TrainingRunOptions)


@app.command("pretrain")
@with_options(options=TRAINING, run=RUN)
def pretrain_command(
    data: Annotated[
        str | None, typer.Option(help="Pose store version (id or stage). Default: newest preprocess-amass, or demo.")
    ] = None,
    workspace: WorkspaceOption = None,
    *,
    options: dict[str, Any],
    run: dict[str, Any],
) -> None:
    """Pretrain an uplifting transformer on a pose store (AMASS) -> checkpoint version.

    The store is re-hashed first unless found intact with no file changed since; `flows.py verify` always re-hashes.

    Example: python flows.py pretrain --model uplift-upsample --preset h36m-351
    --training-preset uplift-upsample-h36m-351 --device cuda
    Multi-GPU: torchrun --nproc_per_node=N flows.py pretrain ...
    """
    run_flow("pretrain", data=data, options=options, run=run, workspace=optional_str(workspace))


@app.command("finetune")
@with_options(options=TRAINING, run=RUN)
def finetune_command(
    data: Annotated[
        str | None, typer.Option(help="Target pose store version. Default: newest preprocess-h36m, or demo.")
    ] = None,
    init: Annotated[
        str | None, typer.Option(help="Checkpoint version to start from (e.g. pretrain). Default: from scratch.")
    ] = None,
    workspace: WorkspaceOption = None,
    *,
    options: dict[str, Any],
    run: dict[str, Any],
) -> None:
    """Finetune a checkpoint (or train from scratch) on a target pose store -> checkpoint version.

    The store is re-hashed first unless found intact with no file changed since; `flows.py verify` always re-hashes.

    Example: python flows.py finetune --init pretrain --data preprocess-h36m
    """
    run_flow("finetune", data=data, init=init, options=options, run=run, workspace=optional_str(workspace))


@app.command("pretrain-finetune")
@with_options(options=TRAINING, run=OptionGroup(TrainingRunOptions, exclude=("resume",)))
def pretrain_finetune_command(
    pretrain_data: Annotated[
        str | None, typer.Option(help="AMASS store version. Default: newest preprocess-amass, or the demo.")
    ] = None,
    finetune_data: Annotated[
        str | None, typer.Option(help="Target store version. Default: newest preprocess-h36m, or the demo.")
    ] = None,
    workspace: WorkspaceOption = None,
    *,
    options: dict[str, Any],
    run: dict[str, Any],
) -> None:
    """Pretrain on AMASS, finetune on the target, and compare with training from scratch.

    With no data arguments: builds the licence-free demo data, preprocesses it, pretrains, finetunes both ways,
    evaluates both and prints the comparison table, with a constant mean-pose baseline as its first row. Every
    stage is a version; a rerun reuses them all.

    Example: python flows.py pretrain-finetune --max-steps 4
    """
    run_flow("pretrain-finetune", announce_version=False, pretrain_data=pretrain_data, finetune_data=finetune_data,
             options=options, run=run, workspace=optional_str(workspace))  # fmt: skip


@app.command("evaluate")
@with_options(run=OptionGroup(TrainingRunOptions, exclude=("resume",)))
def evaluate_command(
    checkpoint: Annotated[str, typer.Option(help="Checkpoint version (id or stage).")] = "finetune",
    data: Annotated[
        str | None, typer.Option(help="Pose store version. Default: newest preprocess-h36m, or the demo.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split evaluated.")] = "test",
    preset: Annotated[
        str | None,
        typer.Option(
            help="Evaluation preset: h36m, mpi-inf-3dhp or quick (presets/evaluation/), or a YAML file. "
            "Default: the protocol of the store's dataset, with flip test-time augmentation."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    *,
    run: dict[str, Any],
) -> None:
    """Evaluate a checkpoint on a pose store with the published protocols -> metrics version (report.md, plots).

    The store is re-hashed first unless found intact with no file changed since; `flows.py verify` always re-hashes.

    Human3.6M: MPJPE (P1), P-MPJPE (P2), N-MPJPE, MPJVE per action; MPI-INF-3DHP: PCK@150 mm, AUC, MPJPE per
    activity; HumanEva-I: per subject and action.

    Example: python flows.py evaluate --checkpoint finetune --preset h36m
    """
    run_flow("evaluate", checkpoint=checkpoint, data=data, split=split, preset=preset, run=run,
             workspace=optional_str(workspace))  # fmt: skip
