"""Fragments: one converted source item's views on disk, between parallel conversion and the store write.

Large conversions run in two parallel phases. Workers convert source items (an AMASS file, a Human3.6M
sequence) and each saves its views as a fragment; the coordinator then lays the fragments out in a fixed
order (the sorted source manifest) and workers copy them into disjoint chunk-aligned blocks of the store.
Fragments are zip files of compressed arrays (``FRAGMENT_CODEC``: Blosc LZ4 with byte shuffle, 1.6x smaller
than raw float32 joints at ~1.7 GB/s, so compressing costs about 1% of a conversion) and a JSON list of each
array's dtype and shape; no pickle. They are written atomically, so a rerun after a crash reuses every
fragment already finished and the final store does not depend on which worker did what. The fragment
directory may be in object storage (``s3://...``): each fragment is then one object, written in one PUT, so
workers on other machines read what any worker wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from datasets.errors import EnvironmentFailure, reraise_if_environment
from datasets.storage import ObjectPath, as_location, write_atomically
from datasets.store.schema import ArraySpec, StoreLayout
from datasets.store.validate import view_arrays_problem
from datasets.store.writer import view_arrays, view_row, view_specs, write_block
from datasets.views import Rejection, View


@dataclass(frozen=True)
class FragmentInfo:
    """What the coordinator needs to know about one converted item, without its arrays.

    Attributes:
        item: The source item (e.g. the path of the file it came from).
        path: The fragment file (a path or URL), or None when the item was rejected.
        rows: One index row per view (``datasets.store.view_row``), in view order.
        specs: ``view_specs`` of each view.
        rejection: Why the item was refused, if it was.
    """

    item: str
    path: str | None
    rows: tuple[Mapping[str, Any], ...] = ()
    specs: tuple[Mapping[str, ArraySpec], ...] = ()
    rejection: Rejection | None = None

    @property
    def frames(self) -> int:
        """Frames of all views of the item."""
        return sum(int(row["length"]) for row in self.rows)


FRAGMENT_SUFFIX = ".zip"
ARRAYS_MEMBER = "arrays.json"
"""The member of a fragment listing ``{member: [dtype, shape]}``."""


def fragment_codec() -> Any:
    """The codec of fragment arrays (``numcodecs.Blosc``: LZ4, level 5, byte shuffle, one thread)."""
    from numcodecs import Blosc

    return Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE, blocksize=0)


def _key(view_number: int, array: str) -> str:
    return f"view{view_number}__{array}"


def write_fragment_arrays(handle: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """A fragment into the binary file ``handle``: one stored member per compressed array, then the list."""
    codec = fragment_codec()
    listing = {}
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
        for member, values in arrays.items():
            values = np.ascontiguousarray(values)
            archive.writestr(member, codec.encode(values))
            listing[member] = [values.dtype.str, list(values.shape)]
        archive.writestr(ARRAYS_MEMBER, json.dumps(listing))


def read_fragment_arrays(path: str | os.PathLike | ObjectPath, members: Any = None) -> dict[str, np.ndarray]:
    """Arrays of a fragment by member name: those in ``members`` (all when None) that it has."""
    codec = fragment_codec()
    with as_location(path).open("rb") as handle, zipfile.ZipFile(handle) as archive:
        listing = json.loads(archive.read(ARRAYS_MEMBER))
        wanted = listing if members is None else [member for member in members if member in listing]
        arrays = {}
        for member in wanted:
            dtype, shape = listing[member]
            arrays[member] = np.frombuffer(codec.decode(archive.read(member)), dtype=dtype).reshape(shape)
        return arrays


def save_fragment(path: str | os.PathLike | ObjectPath, item: str, views: Sequence[View]) -> FragmentInfo:
    """Save an item's views to ``path`` (atomically: ``datasets.storage.write_atomically``)."""
    path = as_location(path)
    arrays = {}
    for number, view in enumerate(views):
        for name, values in view_arrays(view).items():
            arrays[_key(number, name)] = values
    write_atomically(path, lambda handle: write_fragment_arrays(handle, arrays))
    return FragmentInfo(
        item=item,
        path=str(path),
        rows=tuple(view_row(view) for view in views),
        specs=tuple(view_specs(view) for view in views),
    )


def load_fragment_view(
    path: str | os.PathLike | ObjectPath, view_number: int, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """The named arrays of one view of a fragment (those it has: per-frame arrays may be absent).

    Only that view's members are read (ranged reads in object storage).
    """
    arrays = read_fragment_arrays(path, [_key(view_number, name) for name in names])
    return {name: arrays[_key(view_number, name)] for name in names if _key(view_number, name) in arrays}


def _info_to_json(info: FragmentInfo) -> dict[str, Any]:
    return {
        "item": info.item,
        "path": info.path,
        "rows": [dict(row) for row in info.rows],
        "specs": [
            {name: [list(spec.trailing_shape), spec.dtype] for name, spec in specs.items()} for specs in info.specs
        ],
        "rejection": None if info.rejection is None else vars(info.rejection),
    }


def _info_from_json(data: Mapping[str, Any]) -> FragmentInfo:
    return FragmentInfo(
        item=data["item"],
        path=data["path"],
        rows=tuple(data["rows"]),
        specs=tuple(
            {name: ArraySpec(tuple(shape), dtype) for name, (shape, dtype) in specs.items()} for specs in data["specs"]
        ),
        rejection=None if data["rejection"] is None else Rejection(**data["rejection"]),
    )


def fragment_stem(item: str) -> str:
    """File stem of an item's fragment: a hash of the item, so any path maps to a safe, unique name."""
    return hashlib.sha256(item.encode()).hexdigest()[:24]


def _output_rejection(key: str, views: Sequence[View], root: int) -> Rejection | None:
    """A rejection naming the first converted view whose arrays fail ``view_arrays_problem``, else None."""
    for number, view in enumerate(views):
        problem = view_arrays_problem(view_arrays(view), root)
        if problem is not None:
            return Rejection(key, problem[0], f"view {number} ({view.describe()}): {problem[1]}")
    return None


def _fragment_views(path: str) -> list[dict[str, np.ndarray]]:
    """Every view's arrays of a fragment, by view number."""
    views: dict[int, dict[str, np.ndarray]] = {}
    for member, values in read_fragment_arrays(path).items():
        view, _, name = member.partition("__")
        views.setdefault(int(view.removeprefix("view")), {})[name] = values
    return [views[number] for number in sorted(views)]


def _checked_cached(info: FragmentInfo, root: int) -> FragmentInfo | None:
    """A cached fragment's info after re-checking its arrays: a rejection if they fail, None if unreadable."""
    if info.path is None:
        return info
    try:
        views = _fragment_views(info.path)
    except Exception as error:  # noqa: BLE001 - missing or damaged fragment: convert the item again
        reraise_if_environment(error)
        return None
    if len(views) != len(info.rows):
        return None
    for number, arrays in enumerate(views):
        problem = view_arrays_problem(arrays, root)
        if problem is not None:
            return FragmentInfo(info.item, None, rejection=Rejection(info.item, problem[0],
                                f"view {number} (cached fragment): {problem[1]}"))  # fmt: skip
    return info


def convert_to_fragment(
    item: Any, key: str, convert: Any, directory: str | os.PathLike | ObjectPath, root: int = 0
) -> FragmentInfo:
    """Convert one source item into a fragment, or reuse the fragment a previous run finished.

    Every view is checked (``datasets.store.validate.view_arrays_problem``: frames, finite values, joints
    near the root) before it becomes a fragment, and a cached fragment is checked again before it is reused
    (an unreadable one is converted again), so one file with extreme values is rejected by name.

    Args:
        item: The source item (a path, or a reader's description of one file), passed to ``convert``.
        key: A string that identifies the item (e.g. its path); names the fragment.
        convert: ``item -> list[View] | Rejection`` (a picklable top-level function or partial).
        directory: Where fragments of this conversion live (a path or URL); shared by reruns of the same version.
        root: Root joint index of the views' skeleton.

    Returns:
        The fragment's info; a rejected item has ``path=None`` and its ``rejection``.

    Raises:
        EnvironmentFailure: Writing the fragment or its info failed (full disk, lost network): the run must
            fail rather than reject the item (``datasets.errors``).
    """
    directory = as_location(directory)
    stem = fragment_stem(key)
    done = directory / f"{stem}.json"
    if done.exists():  # finished by an earlier run of this version
        cached = _checked_cached(_info_from_json(json.loads(done.read_text())), root)
        if cached is not None:
            return cached
    result = convert(item)
    if not isinstance(result, Rejection):
        result = _output_rejection(key, result, root) or result
    try:
        if isinstance(result, Rejection):
            info = FragmentInfo(item=key, path=None, rejection=result)
        else:
            info = save_fragment(directory / f"{stem}{FRAGMENT_SUFFIX}", key, result)
        marker = json.dumps(_info_to_json(info)).encode()
        write_atomically(done, lambda handle: handle.write(marker))  # last: an item is done once its info is stored
    except OSError as error:  # our own output: never the source file's fault
        raise EnvironmentFailure(f"writing the fragment of {key} to {directory} failed: {error}") from error
    return info


def write_fragment_block(
    session: Any,
    layout: StoreLayout,
    block: tuple[int, int],
    sources: Mapping[int, tuple[str, int]],
    names: Sequence[str],
) -> Any:
    """Copy the views overlapping ``block`` from their fragments into a forked session; returns the fork.

    Args:
        session: A forked Icechunk session (``session.fork()``), sent to this worker.
        layout: The store's ``StoreLayout``.
        block: Chunk-aligned ``[start, stop)`` frame range.
        sources: view id -> (fragment path, view number inside the fragment), for the views in the block.
        names: Arrays to write.
    """

    def arrays_of_view(view_id: int) -> dict[str, np.ndarray]:
        path, number = sources[view_id]
        return load_fragment_view(path, number, names)

    write_block(session.store, layout, block, arrays_of_view, names)
    return session
