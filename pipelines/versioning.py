"""Versioned stages: every stage run becomes a version derived from its inputs, config and code.

A version id is ``<stage>-<12 hex>``, the SHA-256 of the stage name, the parent version ids, a fingerprint
of external inputs, the resolved config and the code fingerprint. The same inputs and config on the same
code give the same id, and ``StageRun.existing()`` returns the published version without doing any work;
any change gives a new id, and old versions stay readable. Outputs are written to a private attempt
directory (a local directory, or a prefix when the workspace is in object storage) and published atomically
(``datasets.workspace.Workspace.publish``). See ``docs/versioning.md``.

Usage::

    run = StageRun(workspace, "preprocess-h36m", config=config_dict, inputs=fingerprint)
    if (manifest := run.existing()) is None:
        with run:
            ...write into run.directory...
            manifest = run.publish(counts={...}, outputs={"store": store_output(...)})
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets.storage import Location, ObjectPath, file_sha256, remove_tree
from datasets.store import PoseStore
from datasets.store.integrity import listing_problem, store_listing, store_mismatches
from datasets.workspace import Manifest, Workspace

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
CODE_PACKAGES = ("datasets", "lifting", "pipelines")
"""Source trees whose content defines the code version (``*.py`` and package data)."""
RECORDED_PACKAGES = (
    "mocaplift", "numpy", "scipy", "torch", "zarr", "icechunk", "pyarrow", "dask", "distributed",
    "prefect", "smplx", "trimesh",
)  # fmt: skip
HASH_DIGITS = 12


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of the package sources (``datasets/``, ``lifting/``, ``pipelines/``: ``*.py``, ``*.json``)."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        root = REPOSITORY_ROOT / package
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPOSITORY_ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


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
    parents: Sequence[str],
    inputs: Mapping[str, Any],
    config: Mapping[str, Any],
    code: str,
) -> str:
    """``<stage>-<12 hex>`` derived from everything that determines a stage's output."""
    payload = _canonical_json(
        {"stage": stage, "parents": list(parents), "inputs": inputs, "config": config, "code": code}
    )
    return f"{stage}-{hashlib.sha256(payload.encode()).hexdigest()[:HASH_DIGITS]}"


def files_fingerprint(paths: Iterable[Path], root: Path) -> str:
    """Fingerprint of source files by (path relative to ``root``, size, modification time in ns).

    Cheap on archives of thousands of large files; a rewritten or touched file counts as changed.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(path) for path in paths):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


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
        parents: Ids of the versions this run reads.
        inputs: Fingerprint of external inputs (e.g. ``{"amass_root": files_fingerprint(...)}``).
        runtime: How the run was executed (input paths, device, workers): recorded in the manifest's
            ``metadata["runtime"]`` but not part of the id, because it does not change the output.
    """

    def __init__(
        self,
        workspace: Workspace | str | os.PathLike | ObjectPath | None,
        stage: str,
        config: Mapping[str, Any],
        parents: Sequence[str] = (),
        inputs: Mapping[str, Any] | None = None,
        runtime: Mapping[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
        self.stage = stage
        self.config = json.loads(_canonical_json(config))
        self.parents = tuple(parents)
        self.inputs = json.loads(_canonical_json(inputs or {}))
        self.runtime = json.loads(_canonical_json(runtime or {}))
        for parent in self.parents:
            if self.workspace.get(parent) is None:
                raise LookupError(f"Parent version {parent} of stage {stage} is not in {self.workspace.root}.")
        self.id = version_id(stage, self.parents, self.inputs, self.config, code_fingerprint())
        self._directory: Location | None = None
        self._started = ""
        self._clock = 0.0

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
        self._directory = self.workspace.new_attempt_directory(self.id)
        self._started = utc_now()
        self._clock = time.perf_counter()
        return self

    def __exit__(self, exception_type: Any, exception: Any, traceback: Any) -> None:
        if exception_type is not None and self._directory is not None:
            remove_tree(self._directory)

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
            config=self.config,
            inputs=self.inputs,
            code={"fingerprint": code_fingerprint(), **git_state()},
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
        location = workspace.output_path(manifest, name)
        if output.get("kind") == "store":
            problem = listing_problem(location, output, manifest.id)
            problems += [problem] if problem else []
        elif not location.exists():
            problems.append(f"version {manifest.id}: output {name!r} ({output['path']}) is missing")
    return problems


def verify_version(workspace: Workspace, manifest: Manifest) -> list[str]:
    """Re-hash every output of a version and compare with its manifest; one sentence per difference.

    Files are compared by SHA-256, stores by index, array-value checksums and file listing
    (``datasets.store.integrity.store_mismatches``), directories only for being there. Reads everything.

    Returns:
        The differences; empty when the version is intact.
    """
    problems = []
    for name, output in manifest.outputs.items():
        location = workspace.output_path(manifest, name)
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
