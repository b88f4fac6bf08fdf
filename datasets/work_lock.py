"""Work a live process holds: a lock a running stage keeps on its version's work folder, which ``gc`` respects.

A stage run (``pipelines.lineage.versioning.StageRun``, inside ``with run:``) holds a shared ``fcntl.flock`` on
``cache/<id>/.held`` of its workspace for as long as it runs. ``gc`` removes a version's leftovers (its
``cache/<id>`` folder, its unpublished attempt directories) only while it can take that lock exclusively,
so it never removes what a running conversion or training writes, however old its files are. The kernel
releases a lock when its process dies (also on ``SIGKILL``), so a dead run's work is collected as before;
no heartbeat or pid file can go stale.

Races: a run that starts while ``gc`` holds the lock and deletes the folder waits for the deletion, then
finds that the lock file it holds is no longer the one in the folder and locks the new one. ``flock`` is
local to one machine (and unreliable on some network filesystems): a workspace shared between machines
should not be collected while other machines run stages on it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder, holding(Path(folder) / "work"):
    ...     with unless_held(Path(folder) / "work") as free:
    ...         free
    False
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".held"
"""The lock file inside a held folder (empty; only its lock matters)."""


def _open_lock(directory: Path, create: bool) -> int:
    flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    return os.open(directory / LOCK_FILE, flags, 0o644)


def _is_current(directory: Path, descriptor: int) -> bool:
    """Whether ``descriptor`` is still the lock file in ``directory`` (not one ``gc`` deleted meanwhile)."""
    try:
        return os.stat(directory / LOCK_FILE).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def holding(directory: Path) -> Iterator[None]:
    """Hold ``directory`` (created if absent) against ``gc`` while the block runs.

    Several processes may hold one folder at once (runs of one version racing). On leaving, a folder that
    holds nothing but the lock file is removed, unless another process still holds it.
    """
    while True:
        directory.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = _open_lock(directory, create=True)
        except FileNotFoundError:  # gc removed the folder just now: make it again
            continue
        fcntl.flock(descriptor, fcntl.LOCK_SH)  # waits while gc deletes this folder
        if _is_current(directory, descriptor):
            break
        os.close(descriptor)
    try:
        yield
    finally:
        os.close(descriptor)
        _remove_if_only_lock(directory)


def _remove_if_only_lock(directory: Path) -> None:
    with contextlib.suppress(OSError), unless_held(directory) as free:
        if free and os.listdir(directory) == [LOCK_FILE]:
            os.unlink(directory / LOCK_FILE)
            os.rmdir(directory)


@contextlib.contextmanager
def unless_held(directory: Path) -> Iterator[bool]:
    """For ``gc``: yields False when a live process holds ``directory``; else True, holding it exclusively.

    While the block runs with True, no stage can start holding the folder (it waits), so the block may delete
    it. A folder without a lock file is free (nothing is created in it: that would make it look new).
    """
    try:
        descriptor = _open_lock(directory, create=False)
    except (FileNotFoundError, NotADirectoryError):
        yield True
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)


def is_held(directory: Path) -> bool:
    """Whether a live process holds ``directory`` now (``holding``)."""
    with unless_held(directory) as free:
        return not free


def newest_change_age_s(location: Path, now: float | None = None) -> float:
    """Seconds since anything under ``location`` (itself, every folder and file, links not followed) changed.

    A folder's own modification time changes only when entries are added or removed in it, not when a file
    deeper down is written: a training writing ``cache/<id>/train/metrics.jsonl`` leaves ``cache/<id>`` old.
    """
    newest = os.lstat(location).st_mtime
    for folder, _, files in os.walk(location):
        for name in (folder, *(os.path.join(folder, file) for file in files)):
            with contextlib.suppress(FileNotFoundError):  # removed while walking: it no longer counts
                newest = max(newest, os.lstat(name).st_mtime)
    return (time.time() if now is None else now) - newest
