"""Which views a viewer shows: by id, or by subject / action / sequence / camera, one sequence at a time.

Examples::

    select_views(store)                                   # the first sequence, in all its cameras
    select_views(store, subject="S9", action="Walking")   # S9's first Walking sequence, all cameras
    select_views(store, view_ids=[3, 7])                  # exactly these
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from datasets.store import PoseStore

SEQUENCE_KEY = ("dataset", "subset", "subject", "sequence")
"""Index columns naming a sequence; its views are the same motion seen by different cameras."""


def sequence_key(row: Mapping) -> tuple[str, ...]:
    """``(dataset, subset, subject, sequence)`` of an index row."""
    return tuple(str(row[column]) for column in SEQUENCE_KEY)


def select_views(
    store: PoseStore,
    view_ids: Sequence[int] = (),
    *,
    subject: str | None = None,
    action: str | None = None,
    sequence: str | None = None,
    camera: str | None = None,
    among: Collection[int] | None = None,
) -> list[int]:
    """Views to show.

    With ``view_ids``, exactly those (the filters must then be None). Otherwise the views that match every
    given filter (and lie in ``among``, e.g. the views an evaluation predicted), restricted to the first
    matching sequence: its cameras side by side.

    Args:
        store: The pose store.
        view_ids: Explicit view ids.
        subject: Index ``subject`` (``"S9"``).
        action: Index ``action`` (``"Walking"``).
        sequence: Index ``sequence`` (``"Walking 1"``).
        camera: Index ``camera`` (``"54138969"``, ``"virtual_0"``).
        among: Allowed view ids; None: all.

    Returns:
        View ids, in store order unless given explicitly.

    Raises:
        ValueError: Both ids and filters given, an id outside ``among``, or nothing matches.
    """
    filters = {"subject": subject, "action": action, "sequence": sequence, "camera": camera}
    given = {column: value for column, value in filters.items() if value is not None}
    if view_ids:
        if given:
            raise ValueError(f"choose views by view id or by {', '.join(given)}, not both")
        outside = [v for v in view_ids if among is not None and int(v) not in among]
        if outside:
            raise ValueError(f"views {outside} have no predictions; predicted views: {sorted(among)[:20]}")
        for view_id in view_ids:
            store.view_range(view_id)  # KeyError naming the valid range
        return [int(v) for v in view_ids]
    rows = store.index.select(["view_id", *SEQUENCE_KEY, "action", "camera"]).to_pylist()
    matching = [
        row for row in rows
        if all(str(row[column]) == value for column, value in given.items())
        and (among is None or row["view_id"] in among)
    ]  # fmt: skip
    if not matching:
        described = ", ".join(f"{column}={value!r}" for column, value in given.items()) or "no filter"
        raise ValueError(
            f"no view of {store.directory} matches {described}{' among the predicted views' * bool(among)}"
        )
    first = sequence_key(matching[0])
    return [int(row["view_id"]) for row in matching if sequence_key(row) == first]


def extreme_sequences(store: PoseStore, view_mpjpe: Mapping[int, float]) -> dict[str, list[int]]:
    """The views of the sequences with the highest and lowest mean view MPJPE.

    Args:
        store: The pose store.
        view_mpjpe: View id -> MPJPE (any unit); NaN views (no valid frame) are ignored.

    Returns:
        ``{"worst": view ids, "best": view ids}`` (the same sequence twice if only one was evaluated); empty
        when no view has a finite MPJPE.
    """
    rows = {row["view_id"]: row for row in store.index.select(["view_id", *SEQUENCE_KEY]).to_pylist()}
    by_sequence: dict[tuple[str, ...], list[int]] = {}
    for view_id, value in view_mpjpe.items():
        if np.isfinite(value):
            by_sequence.setdefault(sequence_key(rows[view_id]), []).append(int(view_id))
    if not by_sequence:
        return {}
    means = {key: float(np.mean([view_mpjpe[v] for v in views])) for key, views in by_sequence.items()}
    ordered = sorted(means, key=means.__getitem__)
    return {"worst": by_sequence[ordered[-1]], "best": by_sequence[ordered[0]]}
