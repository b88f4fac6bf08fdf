"""Training commands: ``pretrain``, ``finetune``, ``pretrain-finetune`` and ``evaluate``."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli.common import (
    DeviceOption,
    EpochsOption,
    MaxStepsOption,
    ModelOption,
    PresetOption,
    RefreshOption,
    ResumeOption,
    TrainingPresetOption,
    WorkspaceOption,
    app,
    optional_str,
    run_flow,
)


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
    refresh: RefreshOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Pretrain an uplifting transformer on a pose store (AMASS) -> checkpoint version.

    Example: python flows.py pretrain --model uplift-upsample --preset h36m-351
    --training-preset uplift-upsample-h36m-351 --device cuda
    Multi-GPU: torchrun --nproc_per_node=N flows.py pretrain ...
    """
    run_flow("pretrain", data=data, model=model, preset=preset, training_preset=training_preset, epochs=epochs,
              max_steps=max_steps, device=device, resume=resume, refresh=refresh,
              workspace=optional_str(workspace))  # fmt: skip


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
    refresh: RefreshOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Finetune a checkpoint (or train from scratch) on a target pose store -> checkpoint version.

    Example: python flows.py finetune --init pretrain --data preprocess-h36m
    """
    run_flow("finetune", data=data, init=init, model=model, preset=preset, training_preset=training_preset,
              epochs=epochs, max_steps=max_steps, device=device, resume=resume, refresh=refresh,
              workspace=optional_str(workspace))  # fmt: skip


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
    refresh: RefreshOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Pretrain on AMASS, finetune on the target, and compare with training from scratch.

    With no data arguments: builds the licence-free demo data, preprocesses it, pretrains, finetunes both ways,
    evaluates both and prints the comparison table, with a constant mean-pose baseline as its first row. Every
    stage is a version; a rerun reuses them all.
    """
    run_flow("pretrain-finetune", announce_version=False, model=model, preset=preset, training_preset=training_preset,
             pretrain_data=pretrain_data, finetune_data=finetune_data, epochs=epochs, max_steps=max_steps,
             device=device, refresh=refresh, workspace=optional_str(workspace))  # fmt: skip


@app.command("evaluate")
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
    device: DeviceOption = "auto",
    refresh: RefreshOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Evaluate a checkpoint on a pose store with the published protocols -> metrics version (report.md, plots).

    Human3.6M: MPJPE (P1), P-MPJPE (P2), N-MPJPE, MPJVE per action; MPI-INF-3DHP: PCK@150 mm, AUC, MPJPE per
    activity; HumanEva-I: per subject and action.
    """
    run_flow("evaluate", checkpoint=checkpoint, data=data, split=split, preset=preset, device=device,
              refresh=refresh, workspace=optional_str(workspace))  # fmt: skip
