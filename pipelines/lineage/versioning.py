"""Versioned stages: every stage run becomes a version derived from its inputs, config, code and parents' content.

A version id is ``<stage>-<12 hex>``, the SHA-256 of the stage name, the *content* of the parent outputs it
reads (their checksums as the parents' manifests record them, not the parents' ids), a content fingerprint
of external inputs, the resolved config and the stage's code identity (``pipelines.lineage.code_identity``: the
modules the stage runs, comments and docstrings aside). The same inputs, config and code give the same id,
and ``StageRun.existing()`` returns the published version without doing any work; any change gives a new
id, and old versions stay readable. Because parents count by content, a parent rerun that produces
identical outputs leaves every downstream id unchanged (early cutoff). Outputs are written to a private
attempt directory (a local directory, or a prefix when the workspace is in object storage) and published
atomically (``datasets.workspace.Workspace.publish``). See ``docs/versioning.md``.

Two modules on purpose: ``datasets.workspace`` holds what a reader needs (the manifest, the registry,
resolving a reference, publishing), because ``datasets.store.open_store`` and training's data loading resolve
versions and ``datasets`` may not import ``pipelines``; this module holds what only a stage run needs
(version ids from inputs, config and code identity, git state, verification), which imports
``pipelines.lineage.code_identity``. Nothing is written in both.

Usage::

    run = StageRun(workspace, "preprocess-h36m", config=config_dict, inputs=fingerprint)
    if (manifest := run.existing()) is None:
        with run:
            ...write into run.directory...
            manifest = run.publish(counts={...}, outputs={"store": store_output(...)})
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets.manifest import Manifest, ManifestError
from datasets.storage import Location, ObjectPath, file_sha256, remove_tree
from datasets.store import PoseStore
from datasets.store.integrity import listing_problem, store_listing, store_mismatches
from datasets.work_lock import holding
from datasets.workspace import Workspace
from pipelines.lineage.code_identity import REPOSITORY_ROOT, CodeIdentity, stage_code_identity

RECORDED_PACKAGES = (
    "mocaplift", "numpy", "scipy", "torch", "zarr", "icechunk", "pyarrow", "dask", "distributed",
    "prefect", "smplx", "trimesh",
)  # fmt: skip
HASH_DIGITS = 12


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout the code runs from."""

    def git(*arguments: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", "-C", str(REPOSITORY_ROOT), *arguments], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape outputs."""
    versions = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def version_id(
    stage: str,
    parent_content: Sequence[Mapping[str, Any]],
    inputs: Mapping[str, Any],
    config: Mapping[str, Any],
    code: str,
) -> str:
    """``<stage>-<12 hex>`` derived from everything that determines a stage's output.

    Args:
        stage: Stage name.
        parent_content: For each parent, in order, the checksums of the outputs this stage reads
            (``parent_content``); parent ids are deliberately absent (early cutoff).
        inputs: Content fingerprints of external inputs.
        config: Resolved, output-determining config.
        code: The stage's code identity fingerprint.
    """
    payload = _canonical_json(
        {"stage": stage, "parents": list(parent_content), "inputs": inputs, "config": config, "code": code}
    )
    return f"{stage}-{hashlib.sha256(payload.encode()).hexdigest()[:HASH_DIGITS]}"


def output_content(manifest: Manifest, name: str) -> Any:
    """The recorded checksums of one output: what a consumer's id depends on (and ``verify`` re-hashes).

    A file counts by its SHA-256; a pose store by its index file's SHA-256 and each array's value checksum
    (not by its Icechunk snapshot id, which differs between two writes of identical arrays).

    Raises:
        KeyError: an output that does not exist or records no checksum, naming the version.
    """
    if name not in manifest.outputs:
        raise KeyError(f"Version {manifest.id} has no output {name!r}; it has {sorted(manifest.outputs)}.")
    output = manifest.outputs[name]
    if output.get("kind") == "store":
        return {"index_sha256": output["index_sha256"], "array_sha256": dict(output["array_sha256"])}
    if "sha256" not in output:
        raise KeyError(f"Output {name!r} of version {manifest.id} records no checksum; it cannot be a parent input.")
    return output["sha256"]


def parent_content(manifest: Manifest, reads: Sequence[str] | None = None) -> dict[str, Any]:
    """``{output name: checksums}`` of the outputs of ``manifest`` a child reads (None: every checksummed one)."""
    if reads is None:
        reads = [
            name for name, output in manifest.outputs.items() if output.get("kind") == "store" or "sha256" in output
        ]
    return {name: output_content(manifest, name) for name in sorted(reads)}


def flow_parameters() -> dict[str, Any]:
    """``{"flow_run": {"flow": name, "parameters": {...}}}`` of the Prefect flow run this code runs in, or {}.

    Recorded in the manifest's runtime so that ``--refresh`` can rerun a stage as it was called. A flow run
    in-process (``pipelines.orchestration``) records its call the same way.
    """
    from pipelines.orchestration import flow_call

    call = flow_call()
    if call is not None:
        return {"flow_run": {"flow": call.flow, "parameters": dict(call.parameters)}}
    if "prefect" not in sys.modules:
        return {}  # no Prefect flow run without Prefect imported (in-process runs import none)
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow is None:
        return {}
    return {"flow_run": {"flow": context.flow.name, "parameters": dict(context.flow_run.parameters)}}


def rerun_parameters(manifest: Manifest) -> dict[str, Any]:
    """The parameters of the flow call that made ``manifest``, to make the same call again.

    Raises:
        ValueError: the version was not made by its stage's flow (or by a mocaplift that did not record it).
    """
    recorded = manifest.metadata.get("runtime", {}).get("flow_run", {})
    if recorded.get("flow") != manifest.stage:
        raise ValueError(
            f"{manifest.id} records no call of the {manifest.stage} flow, so it cannot be rerun as it was made; "
            f"run `python flows.py {manifest.stage}` with its arguments instead."
        )
    return dict(recorded.get("parameters", {}))


def utc_now() -> str:
    """Current UTC time, ISO-8601 to the millisecond (``finished`` orders versions: seconds would tie)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class StageRun:
    """One run of a versioned stage: derives the id, reuses or writes, publishes atomically.

    Args:
        workspace: Workspace (or its root: a directory or a URL such as ``s3://bucket/prefix``).
        stage: Stage name, e.g. ``"preprocess-amass"``.
        config: Resolved configuration that determines the output (JSON-serialisable). Options that do not
            change the output (worker counts, cluster addresses) belong elsewhere, so they do not change the id.
        parents: Ids of the versions this run reads. The id depends on their outputs' checksums, not on
            these ids: a parent rerun with identical outputs leaves this run's id unchanged.
        inputs: Content fingerprint of external inputs (``pipelines.lineage.file_hashes.files_fingerprint``).
        runtime: How the run was executed (input paths, device, workers): recorded in the manifest's
            ``metadata["runtime"]`` but not part of the id, because it does not change the output.
        reads: Parent id -> names of the outputs this run reads; parents not named count by every output
            with a checksum.
        code: The stage's code identity; default ``stage_code_identity(stage)``.
    """

    def __init__(
        self,
        workspace: Workspace | str | os.PathLike | ObjectPath | None,
        stage: str,
        config: Mapping[str, Any],
        parents: Sequence[str] = (),
        inputs: Mapping[str, Any] | None = None,
        runtime: Mapping[str, Any] | None = None,
        reads: Mapping[str, Sequence[str]] | None = None,
        code: CodeIdentity | None = None,
    ) -> None:
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        self.stage = stage
        self.config = json.loads(_canonical_json(config))
        self.parents = tuple(parents)
        self.inputs = json.loads(_canonical_json(inputs or {}))
        self.runtime = json.loads(_canonical_json({**(runtime or {}), **flow_parameters()}))
        self.code = code or stage_code_identity(stage)
        self.parent_content: list[dict[str, Any]] = []
        for parent in self.parents:
            manifest = self.workspace.get(parent)
            if manifest is None:
                raise LookupError(f"Parent version {parent} of stage {stage} is not in {self.workspace.root}.")
            self.parent_content.append(parent_content(manifest, (reads or {}).get(parent)))
        self.id = version_id(stage, self.parent_content, self.inputs, self.config, self.code.fingerprint)
        self._directory: Location | None = None
        self._started = ""
        self._clock = 0.0
        self._hold = contextlib.ExitStack()

    def existing(self) -> Manifest | None:
        """The already published version with this id, if any (then no work is needed)."""
        return self.workspace.get(self.id)

    @property
    def directory(self) -> Location:
        """This run's private output directory (valid inside ``with run:``); an ``ObjectPath`` in object storage.

        Write into it with ``datasets.storage`` (``write_atomically``, ``write_parquet``) or the path methods
        both kinds share (``/``, ``write_text``, ``open``), not with functions that need a local path.
        """
        if self._directory is None:
            raise RuntimeError("StageRun.directory is available only inside `with run:`.")
        return self._directory

    def __enter__(self) -> StageRun:
        self._hold = contextlib.ExitStack()
        if isinstance(self.workspace.root, Path):  # gc leaves a held version's work alone (datasets.work_lock)
            self._hold.enter_context(holding(self.workspace.work_directory(self.id)))
        self._directory = self.workspace.new_attempt_directory(self.id)
        self._started = utc_now()
        self._clock = time.perf_counter()
        return self

    def __exit__(self, exception_type: Any, exception: Any, traceback: Any) -> None:
        if exception_type is not None and self._directory is not None:
            remove_tree(self._directory)
        self._hold.close()

    def relative(self, path: str | os.PathLike | ObjectPath) -> str:
        """A path inside the workspace, as recorded in the manifest."""
        return self.workspace.relative(path)

    def publish(
        self,
        counts: Mapping[str, int],
        outputs: Mapping[str, Mapping[str, Any]],
        summary: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """Publish the version; returns the manifest (another run's, if it published the same id first)."""
        manifest = Manifest(
            id=self.id,
            stage=self.stage,
            parents=self.parents,
            parent_content=tuple(self.parent_content),
            config=self.config,
            inputs=self.inputs,
            code={**self.code.to_manifest(), **git_state()},
            packages=package_versions(),
            started=self._started,
            finished=utc_now(),
            wall_time_s=round(time.perf_counter() - self._clock, 3),
            counts=dict(counts),
            outputs={name: dict(output) for name, output in outputs.items()},
            summary=summary,
            metadata={"runtime": self.runtime, **dict(metadata or {})},
        )
        published = self.workspace.publish(manifest)
        if published is not manifest and self._directory is not None:
            remove_tree(self._directory)  # lost the race: theirs is the version
        return published

    def file_output(self, path: str | os.PathLike | ObjectPath) -> dict[str, Any]:
        """Manifest entry for a file output: location and SHA-256."""
        return {"kind": "file", "path": self.relative(path), "sha256": file_sha256(path)}

    def store_output(self, directory: str | os.PathLike | ObjectPath, snapshot: str) -> dict[str, Any]:
        """Manifest entry for a pose store: location, Icechunk snapshot, index and array checksums, file listing."""
        store = PoseStore(directory, snapshot=snapshot)
        return {
            "kind": "store",
            "path": self.relative(store.directory),
            "snapshot": snapshot,
            "index_sha256": file_sha256(store.directory / "index.parquet"),
            "array_sha256": store.array_checksums(),
            "listing": store_listing(store.directory),
        }


def missing_outputs(workspace: Workspace, manifest: Manifest) -> list[str]:
    """One sentence per output of a version whose files are gone (cheap: existence and a store's file listing).

    A store is also reported when its files differ in names or sizes from the listing its manifest recorded
    (e.g. a deleted chunk); changed bytes of the same size need ``verify_version``.
    """
    problems = []
    for name, output in manifest.outputs.items():
        try:
            location = workspace.output_path(manifest, name)
        except ManifestError as error:  # a path leading outside the version: never read
            problems.append(str(error))
            continue
        if output.get("kind") == "store":
            problem = listing_problem(location, output, manifest.id)
            problems += [problem] if problem else []
        elif not location.exists():
            problems.append(f"version {manifest.id}: output {name!r} ({output['path']}) is missing")
    return problems


def verify_version(workspace: Workspace, manifest: Manifest) -> list[str]:
    """Re-hash every output of a version and compare with its manifest; one sentence per difference.

    Files are compared by SHA-256, stores by index, array-value checksums and file listing
    (``datasets.store.integrity.store_mismatches``), directories only for being there. Reads everything
    inside the version's directory, nothing outside it (``Workspace.output_path``). The lineage fields are
    checked by ``pipelines.lineage.audit.lineage_problems``.

    Returns:
        The differences; empty when the version is intact.
    """
    problems = []
    for name, output in manifest.outputs.items():
        try:
            location = workspace.output_path(manifest, name)
        except ManifestError as error:
            problems.append(str(error))
            continue
        kind = output.get("kind")
        if not location.exists():
            problems.append(f"version {manifest.id}: output {name!r} ({output['path']}) is missing")
        elif kind == "store":
            try:
                store = PoseStore(location, snapshot=output.get("snapshot"))
            except Exception as error:  # noqa: BLE001 - a damaged repository raises from icechunk or zarr
                problems.append(f"version {manifest.id}: store {location} cannot be opened ({error})")
                continue
            problems += store_mismatches(store, output, manifest.id)
        elif kind == "file" and file_sha256(location) != output.get("sha256"):
            problems.append(f"version {manifest.id}: file {output['path']} differs from its recorded checksum")
    return problems
