"""The conversion stage every preprocess flow shares: reuse or build, validate, record rejections, publish.

A conversion is a list of source items (files or sequences) and a picklable function turning one item into
views or a rejection. ``run_conversion`` derives the version from the stage, config and input fingerprint;
if it is published already it returns it without work, otherwise it builds the store on Dask, re-opens and
validates it, writes the ``rejected`` table and the Markdown summary, and publishes the version.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datasets.store import PoseStore, raise_for_problems
from datasets.views import Rejection, View
from datasets.workspace import Manifest, Workspace
from pipelines.batch import BuiltStore, NothingAcceptedError, build_store, dask_client
from pipelines.versioning import StageRun

REJECTED_SCHEMA = pa.schema([("path", pa.string()), ("reason", pa.string()), ("detail", pa.string())])
FRAGMENT_CACHE = "cache"
"""Workspace folder of per-version fragment caches: a rerun after a crash resumes from finished items."""


@dataclass(frozen=True)
class Conversion:
    """What a preprocess flow converts.

    Attributes:
        stage: Stage name, e.g. ``"preprocess-h36m"``.
        config: The output-determining config (JSON), recorded in the manifest and hashed into the id.
        inputs: Fingerprint of the source files.
        items: Source items in the order their views are laid out in the store.
        convert: ``item -> list[View] | Rejection``; picklable (top-level function or partial).
        skeleton: Skeleton name of the views.
        joint_names: Joint names in array order.
        attributes: Extra store attributes (e.g. ``{"dataset": "h36m"}``).
        rejected_before: Items refused before conversion (e.g. by discovery), counted as rejected.
        notes: Lines for the summary (e.g. trimmed detection frames).
    """

    stage: str
    config: Mapping[str, Any]
    inputs: Mapping[str, Any]
    items: Sequence[str]
    convert: Callable[[str], list[View] | Rejection]
    skeleton: str
    joint_names: Sequence[str]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    rejected_before: Sequence[Rejection] = ()
    notes: Sequence[str] = ()


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
    lines += [f"| {subset} | {split} | {value} |" for (subset, split), value in sorted(frames.items())]
    if rejections:
        reasons = Counter(rejection.reason for rejection in rejections)
        lines += ["", "| rejected because | items |", "|---|---|"]
        lines += [f"| {reason} | {value} |" for reason, value in reasons.most_common()]
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines)


def _publish(run: StageRun, conversion: Conversion, built: BuiltStore, store_directory: Path) -> Manifest:
    store = PoseStore(store_directory, snapshot=built.snapshot)
    raise_for_problems(store.validate(), str(store_directory))
    rejections = [*conversion.rejected_before, *built.rejected]
    rejected_path = run.directory / "rejected.parquet"
    pq.write_table(rejected_table(rejections), rejected_path)
    discovered = len(conversion.items) + len(conversion.rejected_before)
    counts = {
        "discovered": discovered,
        "accepted": len(built.accepted),
        "rejected": len(rejections),
        "views": built.views,
        "frames": built.frames,
    }
    summary = conversion_summary(conversion.stage, counts, store, rejections, conversion.notes)
    summary_path = run.directory / "summary.md"
    summary_path.write_text(summary + "\n")
    return run.publish(
        counts=counts,
        outputs={
            "store": run.store_output(store_directory, built.snapshot),
            "rejected": run.file_output(rejected_path),
            "summary": run.file_output(summary_path),
        },
        summary=summary,
    )


def run_conversion(
    conversion: Conversion,
    workspace: Workspace | str | Path | None = None,
    workers: int | None = None,
    dask_address: str | None = None,
    strict: bool = False,
    client: Any = None,
) -> tuple[Manifest, bool]:
    """Reuse or build the version of a conversion. Returns ``(manifest, did_work)``.

    Args:
        conversion: What to convert.
        workspace: Workspace root.
        workers: Local cluster size (ignored when ``client`` is given).
        dask_address: Existing scheduler to use instead of a local cluster.
        strict: Fail (publish nothing) if any item is rejected.
        client: An already connected Dask client (tests, or a caller converting several datasets).

    Raises:
        NothingAcceptedError: when nothing was accepted, or ``strict`` and something was rejected.
    """
    run = StageRun(workspace, conversion.stage, config=conversion.config, inputs=conversion.inputs)
    existing = run.existing()
    if existing is not None:
        return existing, False
    if not conversion.items:
        raise NothingAcceptedError(f"{conversion.stage}: no source items found; nothing to convert.")
    fragments = run.workspace.root / FRAGMENT_CACHE / run.id
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
            with dask_client(workers, dask_address) as dask:
                built = build(dask)
        if strict and (built.rejected or conversion.rejected_before):
            first = [*conversion.rejected_before, *built.rejected][0]
            raise NothingAcceptedError(
                f"{conversion.stage}: --strict and {len(built.rejected) + len(conversion.rejected_before)} "
                f"item(s) rejected, e.g. {first.path}: {first.reason} ({first.detail})"
            )
        manifest = _publish(run, conversion, built, store_directory)
    shutil.rmtree(fragments, ignore_errors=True)
    return manifest, True
