"""The shared conversion stage on each kind of workers: rejections recorded, validation, reuse, same store."""

from __future__ import annotations

from dataclasses import replace

import pyarrow.parquet as pq
import pytest
from conftest import synthetic_views

from datasets.store import open_store
from datasets.views import Rejection
from datasets.workspace import Workspace
from pipelines.convert import workers as workers_module
from pipelines.convert.conversion import Conversion, run_conversion
from pipelines.convert.workers import (
    IN_PROCESS_BELOW_ITEMS,
    ForkedWorkers,
    InProcessWorkers,
    dask_client,
    forked_early,
    open_workers,
)
from pipelines.errors import NothingAcceptedError

JOINT_NAMES = [f"joint_{i}" for i in range(17)]


def convert(item: str):
    """Items named ``good-<n>`` give 2 views of n and n + 3 frames; ``bad-*`` are rejected; ``crash`` raises."""
    if item.startswith("bad"):
        return Rejection(item, "nan_values", "poses hold NaN")
    if item == "crash":
        raise OSError("disk on fire")
    frames = int(item.split("-")[1])
    return synthetic_views([frames, frames + 3], seed=frames)


def conversion(items, config=None):
    return Conversion(
        stage="preprocess-test", config=config or {"fps": 50}, inputs={"files": "abc"}, items=items,
        convert=convert, skeleton="h36m17", joint_names=JOINT_NAMES, attributes={"dataset": "synthetic"},
        rejected_before=[Rejection("shape.npz", "not_a_sequence", "shape files hold no motion")],
    )  # fmt: skip


@pytest.fixture(scope="module", params=["in-process", "forked", "dask"])
def client(request):
    """Each kind of workers a conversion runs on (``pipelines.convert.workers``): the same store from each."""
    if request.param == "dask":
        with dask_client(workers=2, address=None, quiet=True) as dask:
            yield dask
    else:
        with open_workers(workers=1 if request.param == "in-process" else 2, quiet=True) as workers:
            yield workers


def test_conversion_keeps_good_items_lists_bad_ones_and_reuses_its_version(tmp_path, client):
    items = ["good-5", "bad-1", "good-9", "crash"]
    manifest, worked = run_conversion(conversion(items), tmp_path, client=client)
    assert worked
    assert manifest.counts == {"discovered": 5, "accepted": 2, "rejected": 3, "views": 4, "frames": 5 + 8 + 9 + 12}
    rejected = pq.read_table(Workspace(tmp_path).output_path(manifest, "rejected")).to_pylist()
    assert [(row["path"], row["reason"]) for row in rejected] == [
        ("shape.npz", "not_a_sequence"), ("bad-1", "nan_values"), ("crash", "conversion_error"),
    ]  # fmt: skip
    assert "disk on fire" in rejected[2]["detail"]
    store = open_store(tmp_path, manifest.id)
    expected = synthetic_views([5, 8], seed=5) + synthetic_views([9, 12], seed=9)
    for view_id, view in enumerate(expected):
        assert store.read("joints_3d", view_id).tobytes() == view.joints_3d.tobytes()
    assert "| nan_values | 1 |" in manifest.summary
    again, worked_again = run_conversion(conversion(items), tmp_path, client=client)
    assert (again.id, worked_again) == (manifest.id, False)
    assert not (tmp_path / "cache" / manifest.id).exists()  # fragments are dropped once published


def test_strict_publishes_nothing_when_an_item_is_rejected(tmp_path, client):
    with pytest.raises(NothingAcceptedError, match="--strict"):
        run_conversion(conversion(["good-4", "bad-2"]), tmp_path, client=client, strict=True)
    assert Workspace(tmp_path).manifests() == []


def test_all_rejected_is_an_error_naming_the_first_reason(tmp_path, client):
    with pytest.raises(NothingAcceptedError, match="bad-2: nan_values"):
        run_conversion(conversion(["bad-2"]), tmp_path, client=client)


def test_a_run_whose_version_a_racing_run_published_answers_with_that_version_and_leaves_nothing(tmp_path):
    """Runs of one version share its fragments; the publisher removes them while the loser is still converting.

    Items are not part of the id, so a run of ``["good-5"]`` is the racing winner: it publishes while the loser
    converts ``good-9`` and removes the fragments the loser wrote for ``good-5``.
    """

    def convert_while_another_run_publishes(item: str):
        if item == "good-9":
            with open_workers(workers=1, quiet=True) as winner_workers:
                run_conversion(conversion(["good-5"]), tmp_path, client=winner_workers)
        return convert(item)

    loser = replace(conversion(["good-5", "good-9"]), convert=convert_while_another_run_publishes)
    with open_workers(workers=1, quiet=True) as workers:
        manifest, worked = run_conversion(loser, tmp_path, client=workers)
    [published] = Workspace(tmp_path).manifests()
    assert (manifest.id, worked) == (published.id, False)
    assert published.counts["accepted"] == 1  # the winner's version, not a merge of both runs
    assert len(list((tmp_path / "versions" / published.id).iterdir())) == 1  # the loser removed its attempt
    assert not (tmp_path / "cache" / published.id).exists()


def test_default_workers_convert_a_few_items_in_process_and_an_explicit_count_is_kept(monkeypatch):
    """4 cores: the default is 4 forked workers, but 15 items (< 16) run in this process; --workers 2 is kept."""
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with open_workers(items=IN_PROCESS_BELOW_ITEMS - 1, quiet=True) as few:
        assert isinstance(few, InProcessWorkers)
    with open_workers(items=IN_PROCESS_BELOW_ITEMS, quiet=True) as many:
        assert isinstance(many, ForkedWorkers) and many.count == 4
    with open_workers(workers=2, items=1, quiet=True) as chosen:
        assert isinstance(chosen, ForkedWorkers) and chosen.count == 2


def test_a_pool_forked_early_is_adopted_by_open_workers_or_stopped_when_unused(monkeypatch):
    """``forked_early`` forks before the conversion knows its items; ``open_workers`` takes that very pool."""
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    with forked_early(workers=2):
        [early] = workers_module._EARLY_POOLS
        forked = early._processes._processes
        assert len(forked) == 2  # forked at once, before any task
        with open_workers(workers=2, quiet=True) as adopted:
            assert adopted is early and workers_module._EARLY_POOLS == []
            assert adopted.submit(pow, 3, 4).result() == 81
    with forked_early(workers=2):
        [unused] = workers_module._EARLY_POOLS
        processes = list(unused._processes._processes.values())
        with open_workers(workers=1, quiet=True) as in_process:  # a conversion that chose this process
            assert isinstance(in_process, InProcessWorkers) and workers_module._EARLY_POOLS == []
            for process in processes:  # stopped before this process converts, not after
                process.join(timeout=30)
                assert not process.is_alive()
    with forked_early(workers=1), forked_early(workers=None, address="tcp://127.0.0.1:1"):
        assert workers_module._EARLY_POOLS == []  # one worker runs here; a cluster has its own workers


def test_workers_and_address_conflict_names_both():
    with pytest.raises(ValueError, match="--workers 2 and --dask-address tcp://127.0.0.1:1"):
        with dask_client(workers=2, address="tcp://127.0.0.1:1"):
            pass


def test_reader_conversion_counts_humaneva_files_and_chunks(tmp_path):
    """12 MATLAB files (2 parts x 2 subjects x 3 actions), every second cut by a mocap gap into 2 chunks: 18 chunks.

    Train/S1 and Validate/S1 share chunk names ("Walking 1 chunk0"); counted by (subject, sequence) alone they
    collapsed to 9. 18 chunks x 3 cameras = 54 views.
    """
    from fixture_archives import write_humaneva_mat

    from datasets.humaneva import read_humaneva
    from pipelines.convert.conversion import run_reader_conversion

    assert len(write_humaneva_mat(tmp_path / "source")) == 12
    manifest, _ = run_reader_conversion(
        "preprocess-humaneva-test", {}, {"files": "abc"}, lambda: read_humaneva(tmp_path / "source"),
        {"dataset": "humaneva"}, tmp_path / "workspace",
    )  # fmt: skip
    counts = manifest.counts
    assert (counts["source_files"], counts["discovered"], counts["accepted"], counts["views"]) == (12, 18, 18, 54)
    assert "| source_files | 12 |" in manifest.summary
