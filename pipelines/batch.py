"""Dask glue: a client on a local or existing cluster, and the parallel store build every converter uses.

``dask_client`` starts a ``LocalCluster`` (one single-threaded worker process per core by default) or
connects to an existing scheduler (``--dask-address``, else ``$DASK_SCHEDULER_ADDRESS``).
``build_store`` runs the two parallel phases of a conversion: items -> fragments (one task per item,
reusing fragments a previous run finished), then fragments -> disjoint chunk-aligned store blocks in
forked Icechunk sessions, merged and committed once by this process. Fragments and the store may be in
object storage (``datasets.storage``): workers then read and write them there, with credentials from their
own environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin
from tqdm.auto import tqdm

from datasets.errors import ENVIRONMENT_RETRIES, EnvironmentFailure, describe_environment_failure, is_environment_error
from datasets.storage import Location
from datasets.store import WORLD_ARRAY, commit_store, create_store, index_table, merge_specs, segment_layout
from datasets.store.fragments import FragmentInfo, convert_to_fragment, write_fragment_block
from datasets.views import Rejection, View

DASK_ADDRESS_ENVIRONMENT_VARIABLE = "DASK_SCHEDULER_ADDRESS"
BLOCKS_PER_WORKER = 4
"""Aim for this many store blocks per worker, so the write phase balances load."""


TORCH_THREADS_PER_WORKER = 1
"""Each Dask worker process is one single-threaded worker: torch's own thread pool on top of it would
oversubscribe the cores (the body-model fast path stalled from 13 ms to 250 ms per batch with 2 threads on a
2-core machine) and makes float32 rounding depend on the machine's core count."""


class NothingAcceptedError(RuntimeError):
    """Every item of a conversion was rejected (or ``strict`` was set and some were)."""

    @classmethod
    def citing(cls, summary: str, rejections: Sequence[Rejection]) -> NothingAcceptedError:
        """The error saying ``summary``, then the first rejection as ``First: PATH: REASON (DETAIL)``."""
        if not rejections:
            return cls(summary)
        first = rejections[0]
        return cls(f"{summary} First: {first.path}: {first.reason} ({first.detail})")


@contextmanager
def dask_client(workers: int | None = None, address: str | None = None, quiet: bool = False) -> Iterator[Any]:
    """A Dask client on an existing cluster (``address``) or a fresh ``LocalCluster`` of ``workers`` processes.

    Args:
        workers: Worker processes of the local cluster (default: the number of cores).
        address: Scheduler address such as ``tcp://host:8786``; defaults to ``$DASK_SCHEDULER_ADDRESS``.
        quiet: Do not print where the dashboard is.

    Raises:
        ValueError: when ``workers`` is below 1, or both ``workers`` and an address are given (the cluster
            decides its own workers).
    """
    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core"):
        logging.getLogger(name).setLevel(logging.WARNING)  # Prefect's log config would print every handshake
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers} (None: one per core)")
    address = address or os.environ.get(DASK_ADDRESS_ENVIRONMENT_VARIABLE) or None
    if address and workers is not None:
        raise ValueError(
            f"--workers {workers} and --dask-address {address} conflict: an existing cluster has its own workers. "
            f"Drop --workers, or unset {DASK_ADDRESS_ENVIRONMENT_VARIABLE} to start a local cluster."
        )
    if address:
        client = Client(address)
        cluster = None
    else:
        cluster = LocalCluster(
            n_workers=workers if workers is not None else os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        client = Client(cluster)
    client.register_plugin(SingleThreadedTorch(), name="mocaplift-torch-threads")
    if not quiet:
        kind = f"cluster at {address}" if address else f"local cluster of {len(client.scheduler_info()['workers'])}"
        print(f"Dask {kind} workers; dashboard: {client.dashboard_link}")
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class SingleThreadedTorch(WorkerPlugin):
    """Dask worker plugin: one torch thread per worker process (``TORCH_THREADS_PER_WORKER``)."""

    def setup(self, worker: Any) -> None:
        """Called by Dask on every worker, including workers that join later."""
        import torch

        torch.set_num_threads(TORCH_THREADS_PER_WORKER)


def _failed_conversion(item: str, error: BaseException) -> FragmentInfo:
    detail = f"{type(error).__name__}: {error}"
    return FragmentInfo(item=item, path=None, rejection=Rejection(item, "conversion_error", detail))


def convert_items(
    client: Any,
    items: Sequence[Any],
    convert: Callable[[Any], list[View] | Rejection],
    fragment_directory: Location,
    description: str = "converting",
    root: int = 0,
) -> list[FragmentInfo]:
    """Phase 1: convert every item to a fragment on the cluster; results in the order of ``items``.

    An item is identified by its ``path`` attribute if it has one, else by ``str(item)``. An item whose
    conversion raises because of its content is recorded as rejected (``conversion_error``) instead of
    stopping the batch; one that meets an environment error (``datasets.errors.is_environment_error``: full
    disk, network, a dead worker) is tried again up to ``ENVIRONMENT_RETRIES`` times, then the run fails.

    Raises:
        EnvironmentFailure: An item still met an environment error on its last attempt; the message names it.
    """
    from distributed import as_completed

    keys = [str(getattr(item, "path", item)) for item in items]

    def submit(number: int) -> Any:
        return client.submit(convert_to_fragment, items[number], keys[number], convert=convert,
                             directory=str(fragment_directory), root=root, pure=False)  # fmt: skip

    futures = [submit(number) for number in range(len(items))]
    submitted = list(futures)
    position = {future.key: number for number, future in enumerate(futures)}
    attempts = [1] * len(futures)
    results: list[FragmentInfo | None] = [None] * len(futures)
    pending = as_completed(futures)
    frames = 0
    with tqdm(total=len(futures), desc=description, unit="file", disable=None) as bar:
        for future in pending:
            number = position[future.key]
            try:
                results[number] = future.result()
            except Exception as error:  # noqa: BLE001 - one broken item must not stop the batch
                if not is_environment_error(error):
                    results[number] = _failed_conversion(keys[number], error)
                elif attempts[number] <= ENVIRONMENT_RETRIES:
                    attempts[number] += 1
                    retry = submit(number)
                    submitted.append(retry)
                    position[retry.key] = number
                    pending.add(retry)
                    continue
                else:
                    client.cancel([other for other in submitted if not other.done()])  # the run stops here
                    raise EnvironmentFailure(
                        describe_environment_failure(keys[number], error, attempts[number])
                    ) from error
            frames += results[number].frames
            _advance(bar, frames)
    return [info for info in results if info is not None]


def _advance(bar: Any, frames: int) -> None:
    """One more item done on the progress bar, showing ``frames`` converted so far and frames per second."""
    bar.update()
    bar.set_postfix(frames=frames, frames_per_s=f"{frames / max(bar.format_dict['elapsed'], 1e-9):.0f}")


@dataclass(frozen=True)
class BuiltStore:
    """A committed store: its snapshot, the accepted items in store order, and the rejected ones."""

    snapshot: str
    accepted: list[FragmentInfo]
    rejected: list[Rejection]
    views: int
    frames: int


def build_store(
    client: Any,
    items: Sequence[Any],
    convert: Callable[[Any], list[View] | Rejection],
    fragment_directory: Location,
    store_directory: Location,
    skeleton: str,
    joint_names: Sequence[str],
    attributes: Mapping[str, Any] | None = None,
    commit_metadata: Mapping[str, Any] | None = None,
    chunk_frames: int | None = None,
) -> BuiltStore:
    """Convert ``items`` on the cluster and write them, in the order given, as one committed store.

    The order of ``items`` (not the order tasks finish) fixes the layout, so the store is value-identical
    whatever the number of workers.

    Raises:
        NothingAcceptedError: when every item was rejected (there is nothing to write).
    """
    from datasets.skeletons import get_skeleton
    from datasets.store import DEFAULT_CHUNK_FRAMES

    infos = convert_items(client, items, convert, fragment_directory, root=get_skeleton(skeleton).root)
    accepted = [info for info in infos if info.path is not None]
    rejected = [info.rejection for info in infos if info.rejection is not None]
    if not accepted:
        raise NothingAcceptedError.citing(f"All {len(items)} items were rejected; nothing to write.", rejected)
    rows = [row for info in accepted for row in info.rows]
    sources = {}
    for info in accepted:
        for number in range(len(info.rows)):
            sources[len(sources)] = (info.path, number)
    specs = merge_specs(
        [spec for info in accepted for spec in info.specs],
        [f"{info.item} view {number}" for info in accepted for number in range(len(info.specs))],
    )
    chunk_frames = chunk_frames or DEFAULT_CHUNK_FRAMES
    world = WORLD_ARRAY in specs  # views of one sequence share its frames (docs/store.md, schema 2)
    layout, owners = segment_layout(rows, world, chunk_frames)
    repository = create_store(
        store_directory, index_table(rows, world), specs, skeleton, joint_names, attributes, chunk_frames
    )
    workers = max(1, len(client.scheduler_info()["workers"]))
    chunks = -(-layout.total_frames // chunk_frames)
    blocks = layout.blocks(chunks_per_block=max(1, chunks // (workers * BLOCKS_PER_WORKER)))
    session = repository.writable_session("main")
    names = sorted(specs)
    futures = [
        client.submit(
            write_fragment_block,
            session.fork(),
            layout,
            block,
            {segment: sources[owners[segment]] for segment in layout.views_in(*block)},
            names,
            pure=False,
        )
        for block in blocks
    ]
    forks = []
    with tqdm(total=len(futures), desc="writing store blocks", unit="block", disable=None) as bar:
        for future in futures:
            forks.append(future.result())
            bar.update()
    snapshot = commit_store(repository, forks, "Write pose store frames", commit_metadata)
    return BuiltStore(snapshot, accepted, rejected, views=len(rows), frames=layout.total_frames)
