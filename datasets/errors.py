"""Whose fault is an error: the run's environment (disk, network, a dead worker) or the input file's content.

The rule every reader and conversion follows: an error caused by a file's content rejects that file (it
is listed, with its reason, in the version's ``rejected`` table, and the rest of the batch publishes); an
error caused by the environment is retried and then fails the whole run, publishing nothing, because the
same file would convert fine once the disk has space or the network is back. A version's ``rejected``
table therefore never holds environment errors, and a rerun after the cause is fixed publishes the full
version (under the same id, reusing every fragment already finished).

``is_environment_error`` is the one place that decides. Catch-all handlers that turn a file's failure
into a rejection call it first and re-raise what it accepts::

    except Exception as error:
        if is_environment_error(error):
            raise
        return Rejection(path, "conversion_error", str(error))
"""

from __future__ import annotations

import errno

ENVIRONMENT_ERRNOS: frozenset[int] = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC", "EDQUOT", "EIO", "EROFS", "ENOMEM", "ESTALE", "ETIMEDOUT", "ECONNRESET", "ECONNREFUSED",
        "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "ENETRESET", "EPIPE", "EAGAIN", "EMFILE",
        "ENFILE", "EBUSY", "ENOLCK", "EREMOTEIO", "ENOTCONN", "EHOSTDOWN",
    )
    if hasattr(errno, name)
)  # fmt: skip
"""``OSError.errno`` values that describe the machine, the disk or the network, never a file's content:
a full disk or quota, I/O errors, a read-only or stale (NFS) filesystem, exhausted memory or descriptors,
timeouts and broken connections. ``ENOENT``, ``EACCES``, ``EISDIR`` and the like are about the path a
file was given under and stay file problems; an ``OSError`` without an errno (numpy's "cannot interpret
file") is about content."""
ENVIRONMENT_EXCEPTION_NAMES = frozenset({"KilledWorker", "CommClosedError", "EnvironmentFailure"})
"""Exception classes (matched by name, anywhere in the class's bases, so this module imports no Dask):
Dask's ``KilledWorker`` (a worker died running the task, e.g. killed or out of memory) and
``CommClosedError`` (a worker's connection dropped), and our own ``EnvironmentFailure``."""
ENVIRONMENT_RETRIES = 2
"""Times an item whose conversion met an environment error is tried again before the run fails."""


class EnvironmentFailure(RuntimeError):
    """The run failed because of its environment (disk, network, workers); nothing was published.

    The message names the item that met it, the underlying error, and says to rerun once the cause is fixed.
    """


def is_environment_error(error: BaseException) -> bool:
    """True when ``error`` is about the environment (retry, then fail the run), False when about a file's content.

    Environment: ``ConnectionError`` and ``TimeoutError``; any ``OSError`` whose errno is in
    ``ENVIRONMENT_ERRNOS``; Dask's ``KilledWorker``/``CommClosedError``; ``EnvironmentFailure``. An error
    raised while handling one of these (``__cause__`` or ``__context__``) counts as the original.
    Everything else (``ValueError``, ``zipfile.BadZipFile``, ``OSError`` without an errno, ``FileNotFoundError``,
    ``MemoryError`` of one huge file, ...) is the file's.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno in ENVIRONMENT_ERRNOS:
            return True
        if any(cls.__name__ in ENVIRONMENT_EXCEPTION_NAMES for cls in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


def describe_environment_failure(item: str, error: BaseException, attempts: int) -> str:
    """The one-line message of a run stopped by an environment error met while converting ``item``."""
    return (
        f"{item}: {type(error).__name__}: {error} (an environment failure, not a problem of the file; "
        f"{attempts} attempt(s)). Nothing was published: fix the cause (disk space, network, workers) and rerun; "
        "files already converted are reused."
    )


def reraise_if_environment(error: BaseException) -> None:
    """Re-raise ``error`` when it is about the environment; call first in a handler that rejects a file."""
    if is_environment_error(error):
        raise error
