"""The ``view`` command: a self-contained HTML viewer (and optionally a video) of a store or an evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datasets.workspace import VersionNotFoundError
from pipelines.cli.common import WorkspaceOption, command, fail


@command("view")
def view_command(
    reference: Annotated[str, typer.Argument(help="A store version (preprocess-amass, ...) or an evaluation version.")],
    view_id: Annotated[list[int] | None, typer.Option("--view-id", help="View to show (repeatable).")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject (index column subject, e.g. S9).")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (e.g. Walking).")] = None,
    sequence: Annotated[str | None, typer.Option(help="Only this sequence (e.g. 'Walking 1').")] = None,
    camera: Annotated[str | None, typer.Option(help="Only this camera (e.g. 54138969); default: every one.")] = None,
    keypoints: Annotated[
        str | None, typer.Option(help="Store array drawn as 2D keypoints (default: the evaluated model's input).")
    ] = None,
    start: Annotated[int, typer.Option(help="First frame shown.")] = 0,
    frames: Annotated[int | None, typer.Option(help="Most frames shown (default: all).")] = None,
    fit: Annotated[str, typer.Option(help="Initial 3D zoom: body (its whole motion) or scene (cameras too).")] = "body",
    out: Annotated[Path | None, typer.Option(help="HTML file (default: view-<version>-v<views>.html).")] = None,
    video: Annotated[Path | None, typer.Option(help="Also render the views to this .mp4 or .gif.")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write a self-contained HTML viewer of a store or an evaluation (opens offline in any browser).

    Views are chosen by --view-id, or by --subject/--action/--sequence/--camera (the first matching sequence
    in all its matching cameras); by default the first sequence. For an evaluation, prediction and ground
    truth are overlaid with per-joint errors coloured and each frame's MPJPE.

    Example: python flows.py view preprocess-amass --subject 01 --video cmu01.mp4
    """
    from datasets.skeletons import get_skeleton
    from lifting.visualization import build_scenes, select_views, write_viewer
    from pipelines.viewing import default_output, resolve_view_source

    if video is not None and video.suffix.lower() not in (".mp4", ".gif"):
        fail(f"--video must end in .mp4 or .gif, got {video.name!r}.")
    if fit not in ("body", "scene"):
        fail(f"--fit must be body or scene, got {fit!r}.")
    try:
        source = resolve_view_source(workspace, reference)
        among = None if source.predictions is None else set(source.predictions)
        view_ids = select_views(source.store, view_id or (), subject=subject, action=action, sequence=sequence,
                                camera=camera, among=among)  # fmt: skip
        array = keypoints or source.keypoints
        scenes = [
            scene.clip(start, frames) for scene in build_scenes(source.store, view_ids, source.predictions, array)
        ]
    except (VersionNotFoundError, KeyError, ValueError) as error:
        fail(str(error), code=1)
    root = get_skeleton(source.store.skeleton).root
    title = f"{source.manifest.id}: {scenes[0].title.rsplit(',', 1)[0]}"
    path = write_viewer(out or default_output(source.manifest, view_ids), scenes, title, array, root, fit)
    typer.echo(f"wrote {path} ({len(scenes)} views, {max(scene.frames for scene in scenes)} frames)")
    if video is not None:
        from lifting.visualization.video import write_video

        typer.echo(f"wrote {write_video(video, scenes, root)}")
