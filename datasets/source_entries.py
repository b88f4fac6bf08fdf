"""Which entries of a source archive are read: regular files, and links that stay inside the archive.

The rule every reader, discovery and input fingerprint follows (``docs/operations.md``, "Odd entries in a
source archive"):

* a regular file is read;
* a symbolic link (or a chain of them) is followed only when its final target is a regular file inside the
  archive root (both sides resolved); a link leaving the archive is not followed, even to a regular file;
* anything else is refused with a sentence saying what it is: a named pipe (FIFO), socket or device (a
  read could block forever, or never end, as ``/dev/zero`` does), a directory, a dangling link, a link loop.

A refused entry is listed in the version's ``rejected`` table with that sentence; the rest of the batch
publishes. ``entry_problem`` decides from ``os.lstat``/``os.stat`` alone and never opens the entry.
``open_regular`` is the one way a source file is opened: with ``O_NONBLOCK`` (opening a FIFO never waits
for a writer) and ``fstat`` after the open, so an entry swapped for a pipe or device after the check is
still refused, never read.

    >>> entry_problem(Path("/dev/null"))
    'a character device, not a regular file'
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
"""What a non-regular entry is, by its ``st_mode``, in the words a rejection uses."""


class NotARegularFileError(ValueError):
    """A path that was to be read is not a regular file (a pipe, device, directory...); nothing was read."""


def _kind(mode: int) -> str:
    """``"a named pipe (FIFO)"`` etc. for a non-regular ``st_mode``."""
    return next((kind for test, kind in FILE_KINDS if test(mode)), "an entry of unknown kind")


def entry_problem(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """Why an entry is not read ("" when it is a regular file, or a link to one that the rule follows).

    Args:
        path: The entry (as listed: a link is not resolved first).
        root: The archive root; links whose target resolves outside it are refused. None: an explicitly
            named file, whose links are followed anywhere (still only to a regular file).

    Returns:
        One sentence, e.g. ``"a symbolic link loop, not a file"``; "" for a readable entry.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "missing: no such file"
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        try:
            resolved = os.path.realpath(path, strict=True)
        except OSError as error:
            if error.errno == errno.ELOOP:
                return "a symbolic link loop, not a file"
            return f"a dangling symbolic link (to {target}), not a file"
        if root is not None and not Path(resolved).is_relative_to(os.path.realpath(root)):
            return f"a symbolic link (to {target}) leading outside the archive, not followed"
        info = os.stat(resolved)
        if not stat.S_ISREG(info.st_mode):
            return f"a symbolic link (to {target}) to {_kind(info.st_mode)}, not a regular file"
    if stat.S_ISDIR(info.st_mode):
        return "a directory, not a file"
    if not stat.S_ISREG(info.st_mode):
        return f"{_kind(info.st_mode)}, not a regular file"
    return ""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open a file for binary reading, refusing anything but a regular file without blocking or reading it.

    Raises:
        NotARegularFileError: ``path`` is (or leads to) a pipe, socket, device or directory; names it.
        OSError: It cannot be opened (missing, dangling link, permissions).
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(f"{path} is {_kind(mode)}, not a regular file: only regular files are read")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
