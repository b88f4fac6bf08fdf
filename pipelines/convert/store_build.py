"""The parallel store build every converter uses, on any ``pipelines.convert.workers.Workers`` (or a Dask client).

``build_store`` runs the two parallel phases of a conversion: items -> fragments (one task per item,
reusing fragments a previous run finished), then fragments -> disjoint chunk-aligned store blocks in
forked Icechunk sessions, merged and committed once by this process. Fragments and the store may be in
object storage (``datasets.storage``): workers then read and write them there, with credentials from their
own environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from datasets.errors import ENVIRONMENT_RETRIES, EnvironmentFailure, describe_environment_failure, is_environment_error
from datasets.storage import Location
from datasets.store import (
    WORLD_ARRAY,
    StoreLayout,
    commit_store,
    create_store,
    index_table,
    merge_specs,
    segment_layout,
)
from datasets.store.fragments import FragmentInfo, convert_to_fragment, write_fragment_block
from datasets.views import Rejection, View
from pipelines.convert.workers import as_workers
from pipelines.errors import NothingAcceptedError

BLOCKS_PER_WORKER = 4
"""Aim for this many store blocks per worker, so the write phase balances load."""


def _failed_conversion(item: str, error: BaseException) -> FragmentInfo:
    detail = f"{type(error).__name__}: {error}"
    return FragmentInfo(item=item, path=None, rejection=Rejection(item, "conversion_error", detail))


IN_FLIGHT_PER_WORKER = 4
"""Tasks submitted ahead per worker: enough to keep every worker busy, few enough that in-process runs show
progress file by file and a large archive does not queue one task object per file at once."""


def convert_items(
    client: Any,
    items: Sequence[Any],
    convert: Callable[[Any], list[View] | Rejection],
    fragment_directory: Location,
    description: str = "converting",
    root: int = 0,
) -> list[FragmentInfo]:
    """Phase 1: convert every item to a fragment on the workers; results in the order of ``items``.

    An item is identified by its ``path`` attribute if it has one, else by ``str(item)``. An item whose
    conversion raises because of its content is recorded as rejected (``conversion_error``) instead of
    stopping the batch; one that meets an environment error (``datasets.errors.is_environment_error``: full
    disk, network, a dead worker) is tried again up to ``ENVIRONMENT_RETRIES`` times, then the run fails.

    Args:
        client: ``pipelines.convert.workers.Workers`` or a Dask client.
        items: Source items.
        convert: ``item -> list[View] | Rejection`` (picklable).
        fragment_directory: Where fragments go.
        description: Progress-bar label.
        root: Root joint index of the views' skeleton.

    Raises:
        EnvironmentFailure: An item still met an environment error on its last attempt; the message names it.
    """
    workers = as_workers(client)
    keys = [str(getattr(item, "path", item)) for item in items]
    waiting = list(range(len(items)))[::-1]  # popped from the end: items in order
    position: dict[Any, int] = {}
    attempts = [1] * len(items)
    results: list[FragmentInfo | None] = [None] * len(items)

    def submit(number: int) -> None:
        future = workers.submit(convert_to_fragment, items[number], keys[number], convert=convert,
                                directory=str(fragment_directory), root=root)  # fmt: skip
        position[future] = number

    frames = 0
    with tqdm(total=len(items), desc=description, unit="file", disable=None) as bar:
        while waiting or position:
            while waiting and len(position) < IN_FLIGHT_PER_WORKER * workers.count:
                submit(waiting.pop())
            done, _ = workers.wait_first(position)
            for future in done:
                number = position.pop(future)
                try:
                    results[number] = future.result()
                except Exception as error:  # noqa: BLE001 - one broken item must not stop the batch
                    if not is_environment_error(error):
                        results[number] = _failed_conversion(keys[number], error)
                    elif attempts[number] <= ENVIRONMENT_RETRIES:
                        attempts[number] += 1
                        waiting.append(number)
                        continue
                    else:
                        workers.cancel(list(position))  # the run stops here
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
    sources = [(info.path, number) for info in accepted for number in range(len(info.rows))]
    segment_sources = {segment: sources[view] for segment, view in enumerate(owners)}
    forks = _write_blocks(as_workers(client), repository, layout, segment_sources, sorted(specs))
    snapshot = commit_store(repository, forks, "Write pose store frames", commit_metadata)
    return BuiltStore(snapshot, accepted, rejected, views=len(rows), frames=layout.total_frames)


def _write_blocks(
    workers: Any, repository: Any, layout: StoreLayout, sources: Mapping[int, tuple[str, int]], names: list[str]
) -> list[Any]:
    """Phase 2: copy fragments into disjoint chunk-aligned blocks of the store, each in a forked session.

    Args:
        workers: ``as_workers(client)``: where the block writes run.
        repository: The store's Icechunk repository (``create_store``'s).
        layout: Frame segments of the store.
        sources: Per segment, the fragment file and the view number in it that hold its frames.
        names: The frame arrays to copy.

    Returns:
        The forked sessions, in block order, for ``commit_store``.
    """
    chunks = -(-layout.total_frames // layout.chunk_frames)
    blocks = layout.blocks(chunks_per_block=max(1, chunks // (workers.count * BLOCKS_PER_WORKER)))
    session = repository.writable_session("main")
    futures = [
        workers.submit_write(
            write_fragment_block,
            session.fork(),
            layout,
            block,
            {segment: sources[segment] for segment in layout.views_in(*block)},
            names,
        )  # fmt: skip
        for block in blocks
    ]
    forks = []
    with tqdm(total=len(futures), desc="writing store blocks", unit="block", disable=None) as bar:
        for future in futures:
            forks.append(future.result())
            bar.update()
    return forks
