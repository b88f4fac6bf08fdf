"""Where a conversion's tasks run: in this process, in forked local workers, or on a Dask cluster.

``open_workers(workers, address)`` chooses:

- ``workers == 1`` (and no address), or the default with fewer than ``IN_PROCESS_BELOW_ITEMS`` items: every
  task runs in this process, in order, as a plain call; nothing starts. One file's conversion is tens of
  milliseconds, so for a few files a pool would only add its start-up.
- ``workers > 1`` (or None: one per core), no address: conversions run in a pool of worker processes
  forked from this one (``ProcessPoolExecutor`` with the ``fork`` start method), so they share the modules
  this process imported before the fork instead of importing everything again as a fresh process would.
  ``forked_early`` forks them when a flow starts, before this process would import torch (it never needs
  to): each worker imports torch while this process prepares the run.
  Store-block writes run in threads of this process (Icechunk and the codecs work outside the GIL), since
  forked children must not use the Icechunk runtime their parent started.
- an address (``--dask-address`` or ``$DASK_SCHEDULER_ADDRESS``), or a Dask client handed in: both phases
  run on that cluster (``dask_client``).

Every kind runs the same task functions with the same arguments and one torch thread per worker
(``TORCH_THREADS_PER_WORKER``), so the store is value-identical whichever kind ran it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

DASK_ADDRESS_ENVIRONMENT_VARIABLE = "DASK_SCHEDULER_ADDRESS"

TORCH_THREADS_PER_WORKER = 1
"""Each worker is one single-threaded worker: torch's own thread pool on top of it would oversubscribe the
cores (``docs/performance.md``, "Conversion workers") and makes float32 rounding depend on the machine's core
count."""


IN_PROCESS_BELOW_ITEMS = 16
"""With the default worker count, a run of fewer items than this converts in this process: a forked worker's
start-up (loading and folding body models) costs as much as converting about this many files
(``docs/performance.md``, "Conversion workers")."""


def _single_threaded_torch() -> None:
    import torch

    torch.set_num_threads(TORCH_THREADS_PER_WORKER)


class Workers(ABC):
    """A place to run tasks. ``submit`` is for conversions (CPU-bound Python), ``submit_write`` for store writes.

    Attributes:
        count: How many tasks run at once (used to size store blocks).
        description: One line saying where tasks run, for the command's output.
    """

    count: int = 1
    description: str = ""

    @abstractmethod
    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Start ``function(*args, **kwargs)``; returns a future (``result()``, ``done()``)."""

    def submit_write(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Like ``submit``, for a task that writes to an Icechunk session it is given."""
        return self.submit(function, *args, **kwargs)

    def wait_first(self, futures: Iterable[Any]) -> tuple[set[Any], set[Any]]:
        """Block until at least one of ``futures`` is done; returns ``(done, not_done)``."""
        done, not_done = wait(list(futures), return_when=FIRST_COMPLETED)
        return set(done), set(not_done)

    def cancel(self, futures: Iterable[Any]) -> None:
        """Cancel the futures that have not started."""
        for future in futures:
            future.cancel()


class InProcessWorkers(Workers):
    """Runs each task at once, in this process (a future that is already done)."""

    count = 1
    description = "converting in this process (one worker; no Dask)"

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:  # noqa: D102
        future: Future = Future()
        try:
            future.set_result(function(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 - delivered through the future, like a pool's
            future.set_exception(error)
        return future


class ForkedWorkers(Workers):
    """Conversions in ``count`` processes forked from this one; store writes in ``count`` threads here."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.description = f"converting in {count} forked worker processes (no Dask)"
        self._processes = ProcessPoolExecutor(
            count, mp_context=multiprocessing.get_context("fork"), initializer=_single_threaded_torch
        )
        self._threads = ThreadPoolExecutor(count, thread_name_prefix="store-write")

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:  # noqa: D102
        return self._processes.submit(function, *args, **kwargs)

    def start(self) -> None:
        """Fork the processes now (a pool forks them at its first task); each then imports torch at once."""
        self._processes.submit(int)  # a no-op task: with the fork method the pool forks every process for it

    def submit_write(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:  # noqa: D102
        return self._threads.submit(function, *args, **kwargs)

    def close(self) -> None:
        """Stop the processes and threads (waiting for running tasks; pending ones are cancelled)."""
        self._processes.shutdown(wait=True, cancel_futures=True)
        self._threads.shutdown(wait=True, cancel_futures=True)

    def abandon(self) -> None:
        """Stop without waiting, for a pool no task needed: its processes may still be importing torch."""
        for process in list((self._processes._processes or {}).values()):  # noqa: SLF001 - the pool's processes
            process.terminate()
        self.close()


class DaskWorkers(Workers):
    """Tasks on a Dask cluster through ``client`` (not pure: every submission runs)."""

    def __init__(self, client: Any, address: str | None = None) -> None:
        self.client = client
        self.count = max(1, len(client.scheduler_info()["workers"]))
        where = f"cluster at {address}" if address else "local cluster"
        self.description = f"Dask {where}: {self.count} workers; dashboard: {client.dashboard_link}"

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        return self.client.submit(function, *args, pure=False, **kwargs)

    def wait_first(self, futures: Iterable[Any]) -> tuple[set[Any], set[Any]]:  # noqa: D102
        from distributed import wait as dask_wait

        done, not_done = dask_wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done), set(not_done)

    def cancel(self, futures: Iterable[Any]) -> None:  # noqa: D102
        self.client.cancel(list(futures))


def as_workers(runner: Any) -> Workers:
    """``runner`` itself if it is ``Workers``, else ``DaskWorkers`` around it (a ``distributed.Client``)."""
    return runner if isinstance(runner, Workers) else DaskWorkers(runner)


def check_worker_count(workers: int | None) -> None:
    """Raise ``ValueError`` unless ``workers`` is None (one per core) or at least 1."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}; omit it for one worker per core.")


def check_workers_and_address(workers: int | None, address: str | None) -> str | None:
    """The scheduler address to use (``address`` or ``$DASK_SCHEDULER_ADDRESS``), after checking both options.

    Raises:
        ValueError: when ``workers`` is below 1, or both ``workers`` and an address are given (the cluster
            decides its own workers).
    """
    check_worker_count(workers)
    address = address or os.environ.get(DASK_ADDRESS_ENVIRONMENT_VARIABLE) or None
    if address and workers is not None:
        raise ValueError(
            f"--workers {workers} and --dask-address {address} conflict: an existing cluster has its own workers. "
            f"Drop --workers, or unset {DASK_ADDRESS_ENVIRONMENT_VARIABLE} to start a local cluster."
        )
    return address


def _local_count(workers: int | None) -> int:
    """Local workers asked for: ``workers``, or one per core when None."""
    return workers if workers is not None else os.cpu_count() or 1


@contextmanager
def open_workers(
    workers: int | None = None, address: str | None = None, quiet: bool = False, items: int | None = None
) -> Iterator[Workers]:
    """Workers for a conversion: in-process (1), forked local processes (> 1; None: one per core), or Dask.

    Args:
        workers: Local worker count; None means one per core, or this process alone for fewer than
            ``IN_PROCESS_BELOW_ITEMS`` items.
        address: Dask scheduler such as ``tcp://host:8786``; defaults to ``$DASK_SCHEDULER_ADDRESS``.
        quiet: Do not print where tasks run.
        items: How many tasks the conversion has, when known.

    Raises:
        ValueError: see ``check_workers_and_address``.
    """
    address = check_workers_and_address(workers, address)
    if address:
        with dask_client(address=address, quiet=True) as client:
            runner = DaskWorkers(client, address)
            _say(runner, quiet)
            yield runner
        return
    count = _local_count(workers)
    if workers is None and items is not None and items < IN_PROCESS_BELOW_ITEMS and count > 1:
        count = 1
        if not quiet:
            print(f"{items} items (< {IN_PROCESS_BELOW_ITEMS}): a worker pool would cost more than it saves")
    early = _take_early_pool(count)
    if count == 1:
        import torch

        threads = torch.get_num_threads()
        _single_threaded_torch()
        runner = InProcessWorkers()
        try:
            _say(runner, quiet)
            yield runner
        finally:
            torch.set_num_threads(threads)
        return
    runner = early or ForkedWorkers(count)
    try:
        _say(runner, quiet)
        yield runner
    finally:
        runner.close()


_EARLY_POOLS: list[ForkedWorkers] = []
"""Pools forked by ``forked_early`` that no ``open_workers`` has adopted yet (at most one per open block)."""


def _take_early_pool(count: int) -> ForkedWorkers | None:
    """The early pool of ``count`` workers, adopted: closing it is now the adopter's job.

    Any other early pool is stopped at once, so that its workers do not compete with the conversion that
    chose otherwise (e.g. in this process, for a few files).
    """
    adopted = next((pool for pool in _EARLY_POOLS if pool.count == count), None) if count > 1 else None
    for pool in list(_EARLY_POOLS):
        _EARLY_POOLS.remove(pool)
        if pool is not adopted:
            pool.abandon()
    return adopted


@contextmanager
def forked_early(workers: int | None = None, address: str | None = None) -> Iterator[None]:
    """Fork the local worker pool now, so that the workers import torch while this process prepares the run.

    A forked worker imports torch before its first file. Forked at the start of a flow, it does so while this
    process checks, discovers and fingerprints the inputs (this process itself never imports torch when
    workers convert), instead of after them, off the run's serial part. ``open_workers`` within the block
    adopts the pool when it chooses forked workers of that count;
    otherwise (the version exists, too few items, an error) the pool is closed when the block ends.

    Args:
        workers: As for ``open_workers``; 1, or an address (given or ``$DASK_SCHEDULER_ADDRESS``), forks nothing.
        address: As for ``open_workers``.

    Raises:
        ValueError: see ``check_workers_and_address``.
    """
    count = _local_count(workers)
    if check_workers_and_address(workers, address) or count == 1:
        yield
        return
    pool = ForkedWorkers(count)
    pool.start()
    _EARLY_POOLS.append(pool)
    try:
        yield
    finally:
        if pool in _EARLY_POOLS:
            _EARLY_POOLS.remove(pool)
            pool.abandon()


def _say(runner: Workers, quiet: bool) -> None:
    if not quiet:
        print(runner.description)


@contextmanager
def dask_client(workers: int | None = None, address: str | None = None, quiet: bool = False) -> Iterator[Any]:
    """A Dask client on an existing cluster (``address``) or a fresh ``LocalCluster`` of ``workers`` processes.

    Commands use ``open_workers``, which needs no cluster on one machine; this is for an existing cluster
    and for callers that want a local Dask cluster explicitly (tests of the cluster path).

    Args:
        workers: Worker processes of the local cluster (default: the number of cores).
        address: Scheduler address such as ``tcp://host:8786``; defaults to ``$DASK_SCHEDULER_ADDRESS``.
        quiet: Do not print where the dashboard is.

    Raises:
        ValueError: see ``check_workers_and_address``.
    """
    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
        logging.getLogger(name).setLevel(logging.WARNING)  # Prefect's log config would print every handshake
    address = check_workers_and_address(workers, address)
    if address:
        client = Client(address)
        cluster = None
    else:
        cluster = LocalCluster(
            n_workers=_local_count(workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    client.register_plugin(_torch_plugin(), name="mocaplift-torch-threads")
    if not quiet:
        print(DaskWorkers(client, address).description)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _torch_plugin() -> Any:
    """A Dask ``WorkerPlugin`` setting one torch thread on every worker, including workers that join later."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class SingleThreadedTorch(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            _single_threaded_torch()

    return SingleThreadedTorch()
