"""Training commands: ``pretrain``, ``finetune``, ``pretrain-finetune`` and ``evaluate``.

What to train (model, presets, budget) and how to run (device, resume, refresh) are generated from
``pipelines.train.options`` (``pipelines.cli.options``); only the version references each command reads
(``--data``, ``--init``, ...) are declared here.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pipelines.cli.common import WorkspaceOption, flow_command, optional_str, run_flow
from pipelines.cli.options import OptionGroup, with_options
from pipelines.stage_names import (
    EVALUATE,
    EVALUATED_CHECKPOINT,
    EVALUATED_SPLIT,
    FINETUNE,
    PRETRAIN,
    PRETRAIN_DATA,
    PRETRAIN_FINETUNE,
    TARGET_DATA,
)
from pipelines.train.options import TrainingOptions, TrainingRunOptions

TRAINING = OptionGroup(TrainingOptions)
RUN = OptionGroup(TrainingRunOptions)


@flow_command(PRETRAIN)
@with_options(options=TRAINING, run=RUN)
def pretrain_command(
    data: Annotated[
        str | None, typer.Option(help=f"Pose store version (id or stage). Default: newest {PRETRAIN_DATA}, or demo.")
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
    from pipelines.train.flows import pretrain

    run_flow(pretrain, data=data, options=options, run=run, workspace=optional_str(workspace))


@flow_command(FINETUNE)
@with_options(options=TRAINING, run=RUN)
def finetune_command(
    data: Annotated[
        str | None, typer.Option(help=f"Target pose store version. Default: newest {TARGET_DATA}, or demo.")
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
    from pipelines.train.flows import finetune

    run_flow(finetune, data=data, init=init, options=options, run=run, workspace=optional_str(workspace))


@flow_command(PRETRAIN_FINETUNE)
@with_options(options=TRAINING, run=OptionGroup(TrainingRunOptions, exclude=("resume",)))
def pretrain_finetune_command(
    pretrain_data: Annotated[
        str | None, typer.Option(help=f"AMASS store version. Default: newest {PRETRAIN_DATA}, or the demo.")
    ] = None,
    finetune_data: Annotated[
        str | None, typer.Option(help=f"Target store version. Default: newest {TARGET_DATA}, or the demo.")
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
    from pipelines.train.flows import pretrain_finetune

    run_flow(pretrain_finetune, announce_version=False, pretrain_data=pretrain_data, finetune_data=finetune_data,
             options=options, run=run, workspace=optional_str(workspace))  # fmt: skip


@flow_command(EVALUATE)
@with_options(run=OptionGroup(TrainingRunOptions, exclude=("resume",)))
def evaluate_command(
    checkpoint: Annotated[str, typer.Option(help="Checkpoint version (id or stage).")] = EVALUATED_CHECKPOINT,
    data: Annotated[
        str | None, typer.Option(help=f"Pose store version. Default: newest {TARGET_DATA}, or the demo.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split evaluated.")] = EVALUATED_SPLIT,
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
    from pipelines.evaluate.flows import evaluate_checkpoint

    run_flow(evaluate_checkpoint, checkpoint=checkpoint, data=data, split=split, preset=preset, run=run,
             workspace=optional_str(workspace))  # fmt: skip
