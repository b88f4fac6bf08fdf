"""``lift``: a detector's 2D keypoints -> 3D poses with a trained checkpoint, as a ``lift`` version.

The options are generated from ``pipelines.lift.options`` (how the file is read; the video, BVH and device)
and ``pipelines.convert.run_options.RunOptions`` (workers, Dask address, strictness for a folder of inputs)
(``pipelines.cli.options``); only the checkpoint and the input are declared here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pipelines.cli.common import WorkspaceOption, fail, flow_command, optional_str, run_flow
from pipelines.cli.options import OptionGroup, with_options
from pipelines.convert.run_options import RunOptions
from pipelines.lift.options import LiftOptions, LiftRunOptions
from pipelines.stage_names import LIFT


@flow_command(LIFT)
@with_options(options=OptionGroup(LiftOptions), outputs=OptionGroup(LiftRunOptions), run=OptionGroup(RunOptions))
def lift_command(
    checkpoint: Annotated[
        str | None,
        typer.Option(help="Checkpoint version (id or stage). Default: the newest finetune started from a pretrain."),
    ] = None,
    keypoints: Annotated[
        Path | None,
        typer.Option(help="Detector keypoint file, OpenPose folder, or a folder of many inputs. Default: the demo's."),
    ] = None,
    workspace: WorkspaceOption = None,
    *,
    options: dict[str, Any],
    outputs: dict[str, Any],
    run: dict[str, Any],
) -> None:
    """Lift 2D detector keypoints (COCO, mmpose, AlphaPose, OpenPose, VideoPose3D npz, .npy) to 3D -> lift version.

    Writes poses_3d.npz and poses_3d.json ((T, 17, 3) metres, root-relative, camera frame, with the 2D that was
    lifted) and viewer.html per input; --video and --bvh on request. A folder is lifted on --workers or a Dask
    cluster, one output per file, unusable files listed in the version's rejected table. With no --keypoints
    and no --checkpoint it lifts the demo detector file with the demo's finetuned checkpoint (run
    `python flows.py pretrain-finetune` first). Formats: docs/keypoint-formats.md.

    Example: python flows.py lift --checkpoint finetune --keypoints video.json --fps 25 --image-size 1920 1080
    """
    if keypoints is not None and not keypoints.exists():
        fail(f"--keypoints {keypoints} does not exist.")
    from pipelines.lift.flow import lift

    run_flow(lift, checkpoint=checkpoint, keypoints=optional_str(keypoints), options=options, outputs=outputs,
             run=run, workspace=optional_str(workspace))  # fmt: skip
