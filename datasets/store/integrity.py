"""Is a published pose store still what its manifest recorded? Re-hash, compare, refuse a mismatch.

A version's manifest records, for its store (``pipelines.lineage.versioning.StageRun.store_output``), the SHA-256
of ``index.parquet``, of every array's values (``PoseStore.array_checksum``) and of the listing of the
store's files (names and sizes, ``store_listing``). Bytes on disk can change afterwards (a failing disk, a
bad copy, a hand edit): a flipped byte in a zstd chunk decodes to other values without any error, and a
deleted chunk fails only the reads that reach it. This module compares:

* ``store_mismatches(store, recorded, version)``: every difference, one sentence each, naming the array and
  the version (reads the whole store once);
* ``check_store`` raises ``StoreIntegrityError`` on any, and remembers a store it found intact, keyed by
  its directory, snapshot, record and the size and modification time of each file (local stores), so the
  next training or evaluation run on an unchanged store skips the re-hash;
* ``open_verified_store(workspace, reference)``: ``open_store`` plus ``check_store``; what training and
  evaluation open.

``python flows.py verify [REF]`` re-hashes every output of one or all versions
(``pipelines.lineage.versioning.verify_version``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets.errors import reraise_if_environment
from datasets.storage import Location, ObjectPath, file_sha256
from datasets.store.reader import PoseStore, open_store
from datasets.store.schema import INDEX_FILE
from datasets.workspace import Workspace, user_cache_directory

VERIFIED_DIRECTORY = "verified-stores"
"""Folder under ``$MOCAPLIFT_CACHE`` (default ``~/.cache/mocaplift``) of records of stores found intact."""
STORE_OUTPUT = "store"


class StoreIntegrityError(ValueError):
    """A store's content differs from what its version's manifest recorded; the message names what differs."""


def _files(directory: Location) -> dict[str, tuple[int, str]]:
    """Every file under ``directory``: relative path -> (size in bytes, modification stamp)."""
    if isinstance(directory, ObjectPath):
        found = directory.filesystem.find(directory.path, detail=True)
        return {
            name.strip("/")[len(directory.path) + 1 :]: (
                int(info.get("size") or 0), str(info.get("ETag") or info.get("LastModified") or info.get("mtime"))
            )
            for name, info in found.items()
        }  # fmt: skip
    files = {}
    for path in directory.rglob("*"):
        if path.is_file():
            stat = path.stat()
            files[path.relative_to(directory).as_posix()] = (stat.st_size, str(stat.st_mtime_ns))
    return files


def store_listing(directory: Location) -> dict[str, Any]:
    """``{"files": count, "sha256": digest of the sorted (path, size) pairs}`` of a store directory."""
    files = _files(directory)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(f"{name}\0{files[name][0]}\n".encode())
    return {"files": len(files), "sha256": digest.hexdigest()}


def listing_problem(directory: Location, recorded: Mapping[str, Any], version: str) -> str | None:
    """A sentence when the store's files differ in names or sizes from ``recorded["listing"]`` (cheap: no reads).

    Stores recorded before listings existed are only checked for being there.
    """
    if not (directory / INDEX_FILE).exists():
        return f"version {version}: store {directory} is missing"
    expected = recorded.get("listing")
    if expected is None:
        return None
    actual = store_listing(directory)
    if actual == expected:
        return None
    change = "missing" if actual["files"] < expected["files"] else "changed"
    return (
        f"version {version}: store {directory} has {actual['files']} files where {expected['files']} were "
        f"recorded, or other names or sizes (files {change})"
    )


def store_mismatches(store: PoseStore, recorded: Mapping[str, Any], version: str) -> list[str]:
    """Every way ``store`` differs from the manifest's record of it, one sentence each (empty: intact).

    Args:
        store: The store, opened at the recorded snapshot.
        recorded: The manifest's ``outputs["store"]``: ``index_sha256``, ``array_sha256``, optional ``listing``.
        version: Version id, for the messages.
    """
    where = f"version {version} (store {store.directory})"
    problems = [problem for problem in [listing_problem(store.directory, recorded, version)] if problem]
    if file_sha256(store.directory / INDEX_FILE) != recorded.get("index_sha256"):
        problems.append(f"{where}: {INDEX_FILE} differs from its recorded checksum")
    expected: Mapping[str, str] = recorded.get("array_sha256") or {}
    for name in sorted(set(store.stored_arrays) - set(expected)):
        problems.append(f"{where}: array {name!r} was not recorded")
    for name, checksum in sorted(expected.items()):
        if name not in store.stored_arrays:
            problems.append(f"{where}: array {name!r} is missing")
            continue
        try:
            actual = store.array_checksum(name)
        except Exception as error:  # noqa: BLE001 - a damaged or deleted chunk raises from zarr, zstd or icechunk
            reraise_if_environment(error)
            problems.append(f"{where}: array {name!r} cannot be read ({type(error).__name__}: {error})")
            continue
        if actual != checksum:
            problems.append(f"{where}: array {name!r} differs from its recorded checksum (its chunks were changed)")
    return problems


def _verified_record(store: PoseStore, recorded: Mapping[str, Any]) -> Path | None:
    """Where the record of this store found intact lives; None in object storage (always re-hashed there)."""
    if isinstance(store.directory, ObjectPath):
        return None
    stamp = json.dumps([str(store.directory), store.snapshot, recorded, sorted(_files(store.directory).items())],
                       sort_keys=True, default=str)  # fmt: skip
    cache = user_cache_directory()
    return cache / VERIFIED_DIRECTORY / hashlib.sha256(stamp.encode()).hexdigest()


def check_store(store: PoseStore, recorded: Mapping[str, Any], version: str) -> None:
    """Refuse a store whose content differs from the record; remember an intact one until its files change.

    Raises:
        StoreIntegrityError: Listing every difference, and how to find out more (``verify``).
    """
    record = _verified_record(store, recorded)
    if record is not None and record.exists():
        return
    problems = store_mismatches(store, recorded, version)
    if problems:
        raise StoreIntegrityError(
            f"refusing to use store of version {version}: its content differs from what the manifest recorded:\n"
            + "\n".join(f"  {problem}" for problem in problems)
            + f"\nRe-create it (delete versions/{version} and registry/{version}.json, then rerun its stage) or "
            "restore it from a copy; `python flows.py verify` lists every damaged version."
        )
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.touch()


def open_verified_store(workspace: str | os.PathLike | ObjectPath | Workspace | None, reference: str) -> PoseStore:
    """``open_store`` for a version's store, refused (``StoreIntegrityError``) if it differs from its manifest."""
    registry = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    manifest = registry.resolve(reference)
    store = open_store(registry.root, manifest.id)
    check_store(store, manifest.outputs[STORE_OUTPUT], manifest.id)
    return store
