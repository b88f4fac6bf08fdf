"""Inspection and service commands: ``versions``, ``verify``, ``show``, ``export``, ``serve``, ``model-info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datasets.manifest import Manifest, ManifestError
from datasets.workspace import VersionNotFoundError, Workspace
from pipelines.cli.common import WorkspaceOption, command, echo, optional_str

DEFAULT_LEFTOVER_AGE_HOURS = 24.0
SECONDS_PER_HOUR = 3600.0

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@command("versions")
def versions_command(
    stage: Annotated[str | None, typer.Argument(help="Only this stage, e.g. preprocess-amass.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """List versions (oldest first) with their parents, counts and time; MISSING marks lost output files.

    A manifest that cannot be read is listed as UNREADABLE with its file and the reason.
    """
    from pipelines.lineage.versioning import missing_outputs

    workspace = Workspace(workspace)
    manifests, unreadable = workspace.scan(stage)
    missing = {manifest.id: missing_outputs(workspace, manifest) for manifest in manifests}
    if as_json:
        rows = [{**_summary_row(manifest), "missing": missing[manifest.id]} for manifest in manifests]
        rows += [{"id": entry.version, "unreadable": entry.reason, "path": str(entry.path)} for entry in unreadable]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not manifests and not unreadable:
        echo(f"No versions{f' of {stage}' if stage else ''} in {workspace.root}.")
        return
    header = f"{'version':<36} {'finished':<29} {'wall s':>8}  {'files':<8} parents"
    echo(header)
    echo("-" * len(header))
    for manifest in manifests:
        parents = ", ".join(manifest.parents) or "-"
        state = "MISSING" if missing[manifest.id] else "ok"
        echo(f"{manifest.id:<36} {manifest.finished:<29} {manifest.wall_time_s:>8.1f}  {state:<8} {parents}")
    for entry in unreadable:
        echo(f"{entry.version:<36} {'UNREADABLE':<29} {'':>8}  {'-':<8} {entry.path}")
    for problems in missing.values():
        for problem in problems:
            echo(f"missing: {problem}", err=True)
    for entry in unreadable:
        echo(f"unreadable: {entry.reason}", err=True)


def _summary_row(manifest: Manifest) -> dict:
    return {
        "id": manifest.id,
        "stage": manifest.stage,
        "parents": list(manifest.parents),
        "finished": manifest.finished,
        "wall_time_s": manifest.wall_time_s,
        "counts": dict(manifest.counts),
    }


@command("verify")
def verify_command(
    reference: Annotated[
        str | None, typer.Argument(help="Version id (or unique prefix) or stage name; default: every version.")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Re-hash the outputs of one version (or all), re-derive their lineage, compare with their manifests.

    Checks that the id derives from the recorded fields, that every parent exists and holds the recorded
    content, and that outputs lie inside the version; names each field that disagrees. Exit 1 on any
    difference or unreadable manifest. Reads every file and every store chunk.
    Example: python flows.py verify preprocess-amass
    """
    from pipelines.lineage.audit import lineage_problems
    from pipelines.lineage.versioning import verify_version

    workspace = Workspace(workspace)
    try:
        if reference is None:
            manifests, unreadable = workspace.scan()
        else:
            manifests, unreadable = [workspace.resolve(reference)], []
    except (VersionNotFoundError, ManifestError) as error:
        echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    damaged = 0
    for manifest in manifests:
        problems = lineage_problems(workspace, manifest)
        problems += verify_version(workspace, manifest)
        damaged += bool(problems)
        echo(f"{'DAMAGED' if problems else 'ok':<8} {manifest.id}")
        for problem in problems:
            echo(f"  {problem}")
    for entry in unreadable:
        echo(f"{'UNREADABLE':<8} {entry.version}")
        echo(f"  {entry.reason}")
    if damaged or unreadable:
        cannot = f"; {len(unreadable)} manifest(s) cannot be read" if unreadable else ""
        echo(f"error: {damaged} of {len(manifests)} version(s) differ from their manifests{cannot}", err=True)
        raise typer.Exit(1)


@command("show")
def show_command(
    reference: Annotated[str, typer.Argument(help="Version id (or unique prefix), or a stage name for its newest.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a version's manifest: stage, parents, config, code, counts, outputs and checksums."""
    from pipelines.lineage.versioning import missing_outputs

    workspace = Workspace(workspace)
    try:
        manifest = workspace.resolve(reference)
    except (VersionNotFoundError, ManifestError) as error:
        echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=str))
        return
    echo(f"version   {manifest.id}")
    echo(f"stage     {manifest.stage}")
    echo(f"parents   {', '.join(manifest.parents) or '-'}")
    code = manifest.code
    echo(
        f"code      {str(code.get('commit'))[:12]}{' (dirty)' if code.get('dirty') else ''}, "
        f"fingerprint {str(code.get('fingerprint'))[:12]}"
    )
    echo(f"run       {manifest.started} -> {manifest.finished} ({manifest.wall_time_s:.1f} s)")
    echo("counts    " + ", ".join(f"{key} {value}" for key, value in manifest.counts.items()))
    echo("outputs")
    for name, output in manifest.outputs.items():
        echo(f"  {name:<12} {output.get('kind', '?'):<9} {output['path']}")
    missing = missing_outputs(workspace, manifest)
    state = "MISSING: " + "; ".join(missing) if missing else "present (python flows.py verify re-hashes them)"
    echo(f"files     {state}")
    echo("config")
    for line in json.dumps(manifest.config, indent=2, sort_keys=True).splitlines():
        echo(f"  {line}")
    if manifest.summary:
        echo("")
        echo(manifest.summary)
    for entry in workspace.scan()[1]:
        echo(f"unreadable: {entry.reason}", err=True)


@command("export")
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


@command("gc")
def gc_command(
    older_than_hours: Annotated[
        float,
        typer.Option("--older-than-hours", help="Also delete leftovers of unpublished versions at least this old."),
    ] = DEFAULT_LEFTOVER_AGE_HOURS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Delete what no version needs: attempt directories of failed or losing runs, and finished work caches.

    Published versions are never touched, nor the work of a stage that is running now (it holds a lock gc
    checks), nor the files of a version whose manifest is unreadable (it is named, with the reason).
    Leftovers of versions that are not published (a crashed run may resume from them) go only once nothing
    in them changed for --older-than-hours.
    """
    workspace = Workspace(workspace)
    leftovers = workspace.unreferenced(older_than_hours * SECONDS_PER_HOUR)
    for entry in workspace.scan()[1]:
        echo(f"keeping every file of {entry.version}: {entry.reason}", err=True)
    deleted = 0
    for location in leftovers:
        if dry_run:
            echo(f"would delete {workspace.relative(location)}")
        elif workspace.remove_leftover(location):
            echo(f"deleted {workspace.relative(location)}")
            deleted += 1
        else:
            echo(f"kept {workspace.relative(location)}: a running stage holds it")
    typer.echo(f"{len(leftovers) if dry_run else deleted} leftover(s) {'found' if dry_run else 'deleted'} in "
               f"{workspace.root}")  # fmt: skip


@command("serve")
def serve_command(
    workspace: WorkspaceOption = None,
    limit: Annotated[int | None, typer.Option(help="Most flow runs executed at once.")] = None,
) -> None:
    """Register a Prefect deployment for every flow and execute their runs until interrupted (Ctrl-C).

    Deployments are named FLOW/FLOW, e.g. preprocess-amass/preprocess-amass. With a Prefect server running
    (prefect server start), start this, then: prefect deployment run preprocess-amass/preprocess-amass
    """
    from pipelines.serve import serve_all

    serve_all(workspace=optional_str(workspace), limit=limit)


@command("model-info")
def model_info_command(
    model: Annotated[str, typer.Argument(help="Model name: uplift-upsample, mixste, strided, mixste-tmt, ...")],
    preset: Annotated[
        str | None,
        typer.Option(
            help="Preset under presets/models/<model>/ (e.g. h36m-81, or demo: the small one the demo trains). "
            "Default: the paper's headline configuration (uplift-upsample h36m-351, mixste h36m-243, ...).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Print a model's parameters, FLOPs per forward and per output frame, and its input/output shapes.

    Example: python flows.py model-info mixste (the paper's T = 243 model); python flows.py model-info
    uplift-upsample --preset demo (the demo's small one)
    """
    from lifting.models import MODELS, PAPER_PRESETS, available_presets, format_model_info, model_info

    if model not in MODELS:
        typer.echo(f"Unknown model {model!r}; choose one of {', '.join(sorted(MODELS))}.", err=True)
        raise typer.Exit(1)
    preset = preset or PAPER_PRESETS[model]
    if preset not in available_presets(model):
        typer.echo(f"No preset {preset!r} for {model}; choose one of {', '.join(available_presets(model))}.", err=True)
        raise typer.Exit(1)
    typer.echo(format_model_info(model_info(model, preset)))
