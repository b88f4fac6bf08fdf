"""The ``import-checkpoint`` command: an author's released weights file -> a checkpoint version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.common import WorkspaceOption, fail, flow_command, optional_str, run_flow
from pipelines.stage_names import IMPORT_CHECKPOINT


@flow_command(IMPORT_CHECKPOINT)
def import_checkpoint_command(
    source: Annotated[
        Path, typer.Argument(help="The released weights file (.h5 for uplift-upsample, .bin mixste, .pth strided).")
    ],
    model: Annotated[
        str, typer.Option(help="Whose weights: uplift-upsample (Keras .h5), mixste (.bin) or strided (.pth).")
    ],
    preset: Annotated[
        str,
        typer.Option(
            help="Model preset of the released config (presets/models/<model>/, e.g. h36m-351), or a YAML file."
        ),
    ],
    training_preset: Annotated[
        str | None,
        typer.Option(
            help="Training preset recorded with the weights; evaluation and lift read its window settings. "
            "Default: <model>-<preset> (presets/training/)."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import the authors' released weights as a checkpoint version, to evaluate, finetune or lift with.

    The file is read without running any code it may carry (a pickle asking for more than tensors and NumPy
    arrays is refused), every tensor is mapped to mocaplift's model and checked against the preset's shapes,
    and the version records the file's SHA-256, so importing it again reuses the version. The released files,
    their configs and the papers' numbers: docs/released-checkpoints.md.

    Example: python flows.py import-checkpoint h36m_351.h5 --model uplift-upsample --preset h36m-351

    Then: python flows.py evaluate --checkpoint import-checkpoint --preset h36m
    """
    if not source.is_file():
        fail(f"{source} does not exist; give the released weights file.")
    from pipelines.lift.import_checkpoint import import_checkpoint

    run_flow(import_checkpoint, source=str(source), model=model, preset=preset, training_preset=training_preset,
             workspace=optional_str(workspace))  # fmt: skip
