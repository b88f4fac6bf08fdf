"""Is a published output still what its manifest recorded? Re-hash, compare, refuse a mismatch.

A version's manifest records, for its store (``pipelines.lineage.versioning.StageRun.store_output``), the SHA-256
of ``index.parquet``, of every array's values (``PoseStore.array_checksum``) and of the listing of the
store's files (names and sizes, ``store_listing``). Bytes on disk can change afterwards (a failing disk, a
bad copy, a hand edit): a flipped byte in a zstd chunk decodes to other values without any error, and a
deleted chunk fails only the reads that reach it. This module compares:

* ``store_mismatches(store, recorded, version)``: every difference, one sentence each, naming the array and
  the version (reads the whole store once);
* ``check_store`` raises ``StoreIntegrityError`` on any, and remembers a store it found intact, keyed by
  its directory, snapshot, record and the size, modification and change time and inode of each file
  (local stores), so the next training or evaluation run on an unchanged store skips the re-hash (a byte
  flipped with its mtime set back still changes the ctime, which no user can set);
* ``open_verified_store(workspace, reference)``: ``open_store`` plus ``check_store``; what training and
  evaluation open;
* ``check_file(path, recorded, version)``: the same for a file output (a checkpoint, a metrics file): its
  SHA-256 against the manifest's, remembered by the same rule (path, record, size, modification and change time, inode),
  so a checkpoint is hashed once when first opened, again only after it changes, and refused
  (``FileIntegrityError``, one line naming the version and the file) when it differs.

``python flows.py verify [REF]`` re-hashes every output of one or all versions
(``pipelines.lineage.versioning.verify_version``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
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


class FileIntegrityError(ValueError):
    """A file output's bytes differ from the SHA-256 its version's manifest recorded (one line, naming both)."""


def _stamp(path: Path) -> tuple[int, str]:
    """(size in bytes, stamp) of a local file: what tells the verified-record cache it changed.

    The stamp joins the modification time, the change time and the inode: a user can set an mtime back after
    flipping a byte, not a ctime.
    """
    stat = path.stat()
    return stat.st_size, f"{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


def _files(directory: Location) -> dict[str, tuple[int, str]]:
    """Every file under ``directory``: relative path -> (size in bytes, stamp: mtime, ctime and inode locally)."""
    if isinstance(directory, ObjectPath):
        found = directory.filesystem.find(directory.path, detail=True)
        return {
            name.strip("/")[len(directory.path) + 1 :]: (
                int(info.get("size") or 0), str(info.get("ETag") or info.get("LastModified") or info.get("mtime"))
            )
            for name, info in found.items()
        }  # fmt: skip
    return {path.relative_to(directory).as_posix(): _stamp(path) for path in directory.rglob("*") if path.is_file()}


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


def _checked_once(location: Location, recorded: Any, files: Callable[[], Mapping[str, Any]],
                  problems_of: Callable[[], list[str]]) -> list[str]:  # fmt: skip
    """``problems_of()``, unless this output was found intact before and none of its files changed since.

    A record of an output found intact is an empty file under ``$MOCAPLIFT_CACHE/verified-stores`` named
    after its location, what the manifest recorded, and the size and modification stamp of each of its
    files (``files()``); outputs in object storage are re-hashed every time.
    """
    record = None
    if not isinstance(location, ObjectPath):
        stamp = json.dumps([str(location), recorded, sorted(files().items())], sort_keys=True, default=str)
        record = user_cache_directory() / VERIFIED_DIRECTORY / hashlib.sha256(stamp.encode()).hexdigest()
        if record.exists():
            return []
    problems = problems_of()
    if not problems and record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.touch()
    return problems


def check_store(store: PoseStore, recorded: Mapping[str, Any], version: str) -> None:
    """Refuse a store whose content differs from the record; remember an intact one until its files change.

    Raises:
        StoreIntegrityError: Listing every difference, and how to find out more (``verify``).
    """
    problems = _checked_once(store.directory, [store.snapshot, recorded], lambda: _files(store.directory),
                             lambda: store_mismatches(store, recorded, version))  # fmt: skip
    if problems:
        raise StoreIntegrityError(
            f"refusing to use store of version {version}: its content differs from what the manifest recorded:\n"
            + "\n".join(f"  {problem}" for problem in problems)
            + f"\nRe-create it (delete versions/{version} and registry/{version}.json, then rerun its stage) or "
            "restore it from a copy; `python flows.py verify` lists every damaged version."
        )


def check_file(path: Location, recorded: Mapping[str, Any], version: str) -> None:
    """Refuse a file output whose SHA-256 differs from ``recorded["sha256"]``; remember an intact one.

    Args:
        path: The file as it will be read (a local copy of a file in object storage).
        recorded: The manifest's entry for the output: ``path`` (relative to the workspace) and ``sha256``.
        version: Version id, for the message.

    Raises:
        FileIntegrityError: One line naming the version and the file.
    """
    expected = recorded.get("sha256")

    def problems() -> list[str]:
        actual = file_sha256(path)
        if actual == expected:
            return []
        return [f"refusing to use {recorded.get('path', path)} of version {version}: its SHA-256 is {actual}, its "
                f"manifest records {expected}; restore the file from a copy, or delete versions/{version} and "
                f"registry/{version}.json and rerun the stage that made it"]  # fmt: skip

    found = _checked_once(path, expected, lambda: {Path(path).name: _stamp(Path(path))}, problems)
    if found:
        raise FileIntegrityError(found[0])


def open_verified_store(workspace: str | os.PathLike | ObjectPath | Workspace | None, reference: str) -> PoseStore:
    """``open_store`` for a version's store, refused (``StoreIntegrityError``) if it differs from its manifest."""
    registry = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    manifest = registry.resolve(reference)
    store = open_store(registry.root, manifest.id)
    check_store(store, manifest.outputs[STORE_OUTPUT], manifest.id)
    return store
