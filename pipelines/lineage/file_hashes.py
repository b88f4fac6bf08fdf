"""Source files identified by content, fast: SHA-256 cached by (absolute path, size, mtime, ctime, inode).

A version id depends on what its source files hold, not on where they are or when they were written:
``touch``, a copy without ``-p``, a bucket sync or a second machine give the same fingerprint for the same
bytes, and one changed byte gives another. Hashing a multi-GB archive on every run would cost minutes, so,
as git's index and DVC's cache do, each file's hash is cached under the file's stat key; an unchanged file
is not read again. The key holds the change time too: a byte flipped with the mtime set back (``os.utime``)
still moves the ctime, which no user can set. The cache is one JSON file per workspace on local disk
(``Workspace.local_directory("hashes")``: under the workspace root, or under ``$MOCAPLIFT_CACHE`` for a
workspace in object storage, since sources are local files), rewritten atomically.

A cached hash is trusted only when the file's modification time lies at least ``RACY_WINDOW_NS`` before the
moment it was hashed: a file rewritten within the timestamp granularity of its filesystem right after being
hashed keeps its size and time, and is re-read instead (git's "racily clean" rule).

Usage::

    with FileHashes.of_workspace(workspace) as hashes:
        fingerprint = files_fingerprint(paths, root, hashes)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets.source_entries import entry_problem
from datasets.storage import file_sha256, write_atomically
from datasets.workspace import Workspace

HASHES_DIRECTORY = "hashes"
HASHES_FILE = "files.json"
RACY_WINDOW_NS = 2_000_000_000
"""A file modified less than this before it was hashed is re-hashed next time (2 s: FAT's granularity)."""


class JsonCacheFile:
    """A local cache of ``key -> JSON value`` entries kept in one JSON file.

    Read once (an absent or unreadable file is an empty cache: it only costs recomputing); written
    atomically, only when an entry was set, merged over what other processes wrote meanwhile.

    Args:
        path: The JSON file; None keeps the cache in memory only.
        limit: Keep only this many entries when saving, the newest (None: all).
    """

    def __init__(self, path: Path | None, limit: int | None = None) -> None:
        self.path, self.limit = path, limit
        self.entries: dict[str, Any] = self._read()
        self._changed = False

    def _read(self) -> dict[str, Any]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            entries = json.loads(self.path.read_text())
        except (json.JSONDecodeError, OSError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def set(self, key: str, value: Any) -> None:
        """Set one entry (written by the next ``save``)."""
        self.entries[key] = value
        self._changed = True

    def save(self) -> None:
        """Write the file if an entry was set (its directory is created)."""
        if self.path is None or not self._changed:
            return
        entries = {**self._read(), **self.entries}
        if self.limit is not None:
            entries = dict(list(entries.items())[-self.limit :])  # insertion order: the oldest go first
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, lambda handle: handle.write(json.dumps(entries).encode()))
        self._changed = False


class FileHashes:
    """SHA-256 of local files, cached by stat key in a JSON file.

    Entries are ``absolute path -> [size, mtime_ns, inode, hashed_at_ns, sha256]``.

    Args:
        cache_file: The cache's JSON file; None keeps the cache in memory only.
    """

    def __init__(self, cache_file: Path | None = None) -> None:
        self._cache = JsonCacheFile(cache_file)
        self.hashed = 0
        """Files read (not found in the cache) by this object."""

    @classmethod
    def of_workspace(cls, workspace: Workspace) -> FileHashes:
        """The cache of a workspace (on local disk, see the module docstring)."""
        return cls(workspace.local_directory(HASHES_DIRECTORY) / HASHES_FILE)

    def sha256(self, path: str | os.PathLike) -> str:
        """SHA-256 of a file's bytes, from the cache when its size, mtime, ctime and inode are unchanged."""
        key = str(Path(path).resolve())
        stat = os.stat(key)
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        cached = self._cache.entries.get(key)
        if cached is not None and len(cached) == len(stamp) + 2 and cached[: len(stamp)] == stamp:
            hashed_at_ns, digest = cached[len(stamp) :]
            if stat.st_mtime_ns < hashed_at_ns - RACY_WINDOW_NS:
                return digest
        hashed_at_ns = time.time_ns()
        digest = file_sha256(key)
        self.hashed += 1
        self._cache.set(key, [*stamp, hashed_at_ns, digest])
        return digest

    def save(self) -> None:
        """Write the cache if it changed, merged over what other processes wrote meanwhile."""
        self._cache.save()

    def __enter__(self) -> FileHashes:
        return self

    def __exit__(self, *exception: object) -> None:
        self.save()


def files_fingerprint(
    paths: Iterable[Path], root: Path, hashes: FileHashes | None = None, contained: bool = True
) -> str:
    """Fingerprint of source files by content: SHA-256 over (path relative to ``root``, SHA-256 of the bytes).

    An entry that is not read (``datasets.source_entries.entry_problem``: a pipe, device, directory, a
    dangling or looping link, with ``contained`` a link leaving ``root``) counts by its name and that reason
    instead of its bytes: it is never opened, so a FIFO or ``/dev/zero`` cannot stall the fingerprint, and
    the conversion rejects it by name.

    Args:
        paths: The files, as listed (links not resolved), under ``root`` where ``contained``.
        root: What their names are relative to (so the same archive elsewhere has the same fingerprint).
        hashes: Cache of file hashes; None reads every file.
        contained: ``root`` is an archive whose links are followed only inside it; False for files named
            explicitly (body models, a regressor), whose links are followed anywhere.
    """
    hashes = hashes or FileHashes()
    digest = hashlib.sha256()
    for path in sorted(Path(path) for path in paths):
        problem = entry_problem(path, root if contained else None)
        content = f"not read: {problem}" if problem else hashes.sha256(path)
        digest.update(f"{_relative(path, root)}\0{content}\n".encode())
    return digest.hexdigest()


def _relative(path: Path, root: Path) -> str:
    """``path`` below ``root`` as posix text; resolved on both sides when only that relates them."""
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return path.resolve().relative_to(root.resolve()).as_posix()
