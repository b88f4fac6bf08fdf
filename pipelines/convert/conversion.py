"""The conversion stage every preprocess flow shares: reuse or build, validate, record rejections, publish.

A conversion is a list of source items (files or sequences) and a picklable function turning one item into
views or a rejection. ``run_conversion`` derives the version from the stage, config and input fingerprint;
if it is published already it returns it without work, otherwise it builds the store on its workers, re-opens and
validates it, writes the ``rejected`` table and the Markdown summary, and publishes the version. The
workspace may be a directory or an object-storage URL; every output goes through ``datasets.storage``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from datasets.escaping import markdown_text, terminal_text
from datasets.skeletons import get_skeleton
from datasets.storage import Location, ObjectPath, remove_tree, write_parquet
from datasets.store import PoseStore, raise_for_problems, write_store
from datasets.views import Rejection, View
from datasets.workspace import WORK_CACHE_DIRECTORY, Manifest, Workspace
from pipelines.convert.store_build import BuiltStore, build_store
from pipelines.convert.workers import open_workers
from pipelines.errors import NothingAcceptedError
from pipelines.lineage.versioning import StageRun

REJECTED_SCHEMA = pa.schema([("path", pa.string()), ("reason", pa.string()), ("detail", pa.string())])
CACHE_DIRECTORY = WORK_CACHE_DIRECTORY
"""Workspace folder of per-version work in progress (conversion fragments, training checkpoints), kept until the
version is published so that a rerun after a crash resumes from what was finished."""


@dataclass(frozen=True)
class Conversion:
    """What a preprocess flow converts.

    Attributes:
        stage: Stage name, e.g. ``"preprocess-h36m"``.
        config: The output-determining config (JSON), recorded in the manifest and hashed into the id.
        inputs: Fingerprint of the source files.
        items: Source items in the order their views are laid out in the store; an item's ``path`` (or
            ``str(item)``) identifies it.
        convert: ``item -> list[View] | Rejection``; picklable (top-level function or partial).
        skeleton: Skeleton name of the views.
        joint_names: Joint names in array order.
        attributes: Extra store attributes (e.g. ``{"dataset": "h36m"}``).
        rejected_before: Items refused before conversion (e.g. by discovery), counted as rejected.
        notes: Lines for the summary (e.g. trimmed detection frames).
        tables: Extra tables to keep with the version, by name (written as ``<name>.parquet`` outputs), e.g.
            the discovery manifest.
        runtime: How the run is executed (input paths, device): in the manifest, not in the id.
    """

    stage: str
    config: Mapping[str, Any]
    inputs: Mapping[str, Any]
    items: Sequence[Any]
    convert: Callable[[Any], list[View] | Rejection]
    skeleton: str
    joint_names: Sequence[str]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    rejected_before: Sequence[Rejection] = ()
    notes: Sequence[str] = ()
    tables: Mapping[str, pa.Table] = field(default_factory=dict)
    runtime: Mapping[str, Any] = field(default_factory=dict)


def rejected_table(rejections: Sequence[Rejection]) -> pa.Table:
    """The ``rejected`` table: one row per refused item (path, reason, detail)."""
    return pa.table(
        {
            "path": [rejection.path for rejection in rejections],
            "reason": [rejection.reason for rejection in rejections],
            "detail": [rejection.detail for rejection in rejections],
        },
        schema=REJECTED_SCHEMA,
    )


def conversion_summary(stage: str, counts: Mapping[str, int], store: PoseStore, rejections: Sequence[Rejection],
                       notes: Sequence[str] = ()) -> str:  # fmt: skip
    """Markdown summary of a conversion: counts, frames per subset and split, rejection reasons."""
    lines = [f"## {stage}", "", "| count | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in counts.items()]
    frames = Counter()
    for row in store.index.select(["subset", "split", "length"]).to_pylist():
        frames[(row["subset"], row["split"])] += row["length"]
    lines += ["", "| subset | split | frames |", "|---|---|---|"]
    lines += [f"| {markdown_text(subset)} | {markdown_text(split)} | {value} |"
              for (subset, split), value in sorted(frames.items())]  # fmt: skip
    if rejections:
        reasons = Counter(rejection.reason for rejection in rejections)
        lines += ["", "| rejected because | items |", "|---|---|"]
        lines += [f"| {reason} | {value} |" for reason, value in reasons.most_common()]  # names from our code
    if notes:
        lines += ["", *(f"- {markdown_text(note)}" for note in notes)]
    return "\n".join(lines)


def announce_version(stage: str, manifest: Manifest, worked: bool) -> None:
    """Print which version a conversion published or reused, and its summary (names from the archive escaped)."""
    print(f"{stage}: {'published' if worked else 'reused'} version {manifest.id}")
    print(terminal_text(manifest.summary))


def _publish(
    run: StageRun,
    stage: str,
    store_directory: Location,
    snapshot: str,
    discovered: int,
    accepted: int,
    rejections: Sequence[Rejection],
    notes: Sequence[str],
    tables: Mapping[str, pa.Table] | None = None,
    source_files: int = 0,
) -> Manifest:
    """Re-open and validate the written store, record rejections and the summary, publish the version.

    ``source_files`` (files the reader found) is counted when positive; ``discovered`` and ``accepted`` count
    items (sequences, chunks), ``views`` one per (sequence, camera).
    """
    store = PoseStore(store_directory, snapshot=snapshot)
    raise_for_problems(store.validate(), str(store_directory))
    rejected_path = run.directory / "rejected.parquet"
    write_parquet(rejected_path, rejected_table(rejections))
    counts = {
        **({"source_files": source_files} if source_files > 0 else {}),
        "discovered": discovered,
        "accepted": accepted,
        "rejected": len(rejections),
        "views": store.index.num_rows,
        "frames": store.frames,
    }
    summary = conversion_summary(stage, counts, store, rejections, notes)
    summary_path = run.directory / "summary.md"
    summary_path.write_text(summary + "\n")
    outputs = {
        "store": run.store_output(store_directory, snapshot),
        "rejected": run.file_output(rejected_path),
        "summary": run.file_output(summary_path),
    }
    for name, table in (tables or {}).items():
        write_parquet(run.directory / f"{name}.parquet", table)
        outputs[name] = run.file_output(run.directory / f"{name}.parquet")
    return run.publish(counts=counts, outputs=outputs, summary=summary)


def _refuse_rejections(stage: str, rejections: Sequence[Rejection]) -> None:
    raise NothingAcceptedError.citing(f"{stage}: --strict and {len(rejections)} item(s) rejected.", rejections)


def conversion_run(conversion: Conversion, workspace: Workspace | str | os.PathLike | ObjectPath | None) -> StageRun:
    """The version a conversion makes: its id from the stage, config, input fingerprint and code (no work done)."""
    return StageRun(
        workspace, conversion.stage, config=conversion.config, inputs=conversion.inputs, runtime=conversion.runtime
    )


def run_conversion(
    conversion: Conversion,
    workspace: Workspace | str | os.PathLike | ObjectPath | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    strict: bool = False,
    client: Any = None,
) -> tuple[Manifest, bool]:
    """Reuse or build the version of a conversion. Returns ``(manifest, did_work)``.

    Args:
        conversion: What to convert.
        workspace: Workspace root, a directory or a URL (``s3://bucket/prefix``). In object storage the
            fragments go there too, so workers must reach it with the same environment (credentials).
        workers: Local workers (``pipelines.convert.workers.open_workers``: 1 runs in this process; ignored when
            ``client`` is given).
        dask_address: Existing Dask scheduler to use instead of local workers.
        strict: Fail (publish nothing) if any item is rejected.
        client: Already open ``pipelines.convert.workers.Workers`` or a connected Dask client (tests, or a caller
            converting several datasets).

    Raises:
        NothingAcceptedError: when nothing was accepted, or ``strict`` and something was rejected.
    """
    run = conversion_run(conversion, workspace)
    existing = run.existing()
    if existing is not None:
        return existing, False
    if not conversion.items:
        raise NothingAcceptedError(f"{conversion.stage}: no source items found; nothing to convert.")
    fragments = run.workspace.root / CACHE_DIRECTORY / run.id
    try:
        manifest = _convert_and_publish(run, conversion, fragments, workers, dask_address, strict, client)
    except Exception:
        # Runs of one version share its fragments, and the run that publishes removes them. A racing run can
        # therefore fail reading or writing a fragment; the version it was building is then published (and
        # identical by construction), so that is its answer. Otherwise the fragments stay for a rerun to resume.
        published = run.existing()
        if published is None:
            raise
        remove_tree(fragments)
        return published, False
    remove_tree(fragments)
    return manifest, True


def _convert_and_publish(
    run: StageRun,
    conversion: Conversion,
    fragments: Location,
    workers: int | None,
    dask_address: str | None,
    strict: bool,
    client: Any,
) -> Manifest:
    """Convert every item into fragments, merge them into the run's store and publish (``run_conversion``)."""
    with run:
        store_directory = run.directory / "store"
        attributes = {**conversion.attributes, "version": run.id}
        metadata = {"version": run.id, "stage": conversion.stage}

        def build(dask: Any) -> BuiltStore:
            return build_store(
                dask, conversion.items, conversion.convert, fragments, store_directory,
                conversion.skeleton, conversion.joint_names, attributes, metadata,
            )  # fmt: skip

        if client is not None:
            built = build(client)
        else:
            with open_workers(workers, dask_address, items=len(conversion.items)) as runner:
                built = build(runner)
        rejections = [*conversion.rejected_before, *built.rejected]
        if strict and rejections:
            _refuse_rejections(conversion.stage, rejections)
        discovered = len(conversion.items) + len(conversion.rejected_before)
        manifest = _publish(
            run, conversion.stage, store_directory, built.snapshot, discovered, len(built.accepted), rejections,
            conversion.notes, conversion.tables,
        )  # fmt: skip
    return manifest


def run_reader_conversion(
    stage: str,
    config: Mapping[str, Any],
    inputs: Mapping[str, Any],
    read: Callable[[], Any],
    attributes: Mapping[str, Any],
    workspace: Workspace | str | os.PathLike | ObjectPath | None = None,
    strict: bool = False,
    runtime: Mapping[str, Any] | None = None,
) -> tuple[Manifest, bool]:
    """Reuse or build the version of a dataset whose reader returns all views at once (in memory).

    Args:
        stage: Stage name.
        config: Output-determining config (JSON).
        inputs: Fingerprint of the source files.
        read: Returns a ``datasets.videopose3d.ReadResult`` (skeleton, views, rejected, notes, per_frame).
        attributes: Extra store attributes.
        workspace: Workspace root, a directory or a URL (``s3://bucket/prefix``).
        strict: Fail if anything was rejected.
        runtime: How the run is executed (e.g. the source path): in the manifest, not in the id.

    Returns:
        ``(manifest, did_work)``.
    """
    run = StageRun(workspace, stage, config=config, inputs=inputs, runtime=runtime)
    existing = run.existing()
    if existing is not None:
        return existing, False
    result = read()
    for position, arrays in result.per_frame.items():
        result.views[position].per_frame.update(arrays)
    if not result.views:
        raise NothingAcceptedError.citing(f"{stage}: nothing was accepted.", result.rejected)
    if strict and result.rejected:
        _refuse_rejections(stage, result.rejected)
    skeleton = get_skeleton(result.skeleton)
    with run:
        store_directory = run.directory / "store"
        snapshot = write_store(
            store_directory, result.views, skeleton.name, skeleton.joint_names,
            attributes={**attributes, "version": run.id}, commit_metadata={"version": run.id, "stage": stage},
        )  # fmt: skip
        # One item per sequence (a HumanEva chunk); the subset keeps Train/S1 and Validate/S1 apart.
        accepted = len({(view.subset, view.subject, view.sequence) for view in result.views})
        manifest = _publish(
            run, stage, store_directory, snapshot, accepted + len(result.rejected), accepted, result.rejected,
            result.notes, source_files=result.source_files,
        )  # fmt: skip
    return manifest, True
