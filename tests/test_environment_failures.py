"""Environment failures fail the run and publish nothing; file problems (including extreme outputs) reject the file.

Dask runs in this process (threads), so monkeypatching the fragment writer reaches the workers.
"""

from __future__ import annotations

import errno

import numpy as np
import pyarrow.parquet as pq
import pytest
import typer
from conftest import synthetic_views

from datasets.errors import ENVIRONMENT_RETRIES, EnvironmentFailure, is_environment_error
from datasets.store import fragments
from datasets.store.validate import MAX_JOINT_DISTANCE_FROM_ROOT_M, view_arrays_problem
from datasets.store.writer import view_arrays
from datasets.views import Rejection
from datasets.workspace import Workspace
from pipelines.cli.common import run_flow
from pipelines.convert.conversion import Conversion, run_conversion

JOINT_NAMES = [f"joint_{i}" for i in range(17)]
ITEMS = ["good-4", "good-5", "good-6", "bad-2", "huge-3", "overflow-3"]


def convert(item: str):
    """``good-n``: 2 views of n and n + 3 frames; ``bad-*``: rejected; ``huge-*``: the hands 1e3 m away (a
    millimetre file read as metres); ``overflow-*``: inf in joints_3d, as a float32 overflow of ``trans=1e39``."""
    if item.startswith("bad"):
        return Rejection(item, "nan_values", "poses hold NaN")
    frames = int(item.split("-")[1])
    views = synthetic_views([frames, frames + 3], seed=frames)
    if item.startswith("huge"):
        views[1].joints_3d[:, 3] *= 1000.0
    if item.startswith("overflow"):
        views[0].joints_3d[1:, :, 0] = np.inf  # what np.float32(1e39) gives
    return views


def conversion(items):
    return Conversion(
        stage="preprocess-test", config={"fps": 50}, inputs={"files": "abc"}, items=items, convert=convert,
        skeleton="h36m17", joint_names=JOINT_NAMES, attributes={"dataset": "synthetic"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster) as dask:
            yield dask


@pytest.mark.parametrize(
    ("error", "environment"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EIO, "Input/output error"), True),
        (OSError(errno.ESTALE, "Stale file handle"), True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), True),
        (TimeoutError("read timed out"), True),
        (OSError("Failed to interpret file as a pickle"), False),  # numpy's content error has no errno
        (FileNotFoundError(errno.ENOENT, "No such file"), False),
        (ValueError("poses must be (T, 156)"), False),
        (MemoryError(), False),
    ],
)
def test_classification_by_type_and_errno(error, environment):
    assert is_environment_error(error) is environment


def test_dead_worker_and_wrapped_environment_errors_are_environment():
    from distributed import KilledWorker

    assert is_environment_error(KilledWorker("convert-1", "tcp://127.0.0.1:1", 3))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise ValueError("could not read file") from inner
    except ValueError as wrapped:
        assert is_environment_error(wrapped)


def test_extreme_views_are_named_and_clean_ones_pass():
    """A joint 1000x farther out than the synthetic ~0.1 m spread is past the 3 m limit; inf is non-finite."""
    views = synthetic_views([5])
    assert view_arrays_problem(view_arrays(views[0])) is None
    views[0].joints_3d[2, 5] += np.float32(MAX_JOINT_DISTANCE_FROM_ROOT_M + 1.0)
    reason, detail = view_arrays_problem(view_arrays(views[0]))
    assert reason == "implausible_output" and "joint 5" in detail and "frame 2" in detail
    views[0].keypoints_2d[4] = np.inf
    assert view_arrays_problem(view_arrays(views[0]))[0] == "non_finite_output"


def test_disk_full_while_writing_fragments_publishes_nothing_and_a_rerun_publishes_everything(
    tmp_path, client, monkeypatch
):
    original = fragments.save_fragment
    calls = []

    def full_disk(path, item, views):
        calls.append(item)
        if item in ("good-5", "good-6"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(path, item, views)

    monkeypatch.setattr(fragments, "save_fragment", full_disk)
    with pytest.raises(EnvironmentFailure, match=r"good-[56]: EnvironmentFailure: .*No space left on device"):
        run_conversion(conversion(ITEMS), tmp_path, client=client)
    assert Workspace(tmp_path).manifests() == []
    failed = "good-5" if calls.count("good-5") > ENVIRONMENT_RETRIES else "good-6"
    assert calls.count(failed) == 1 + ENVIRONMENT_RETRIES

    monkeypatch.setattr(fragments, "save_fragment", original)  # space is back
    manifest, worked = run_conversion(conversion(ITEMS), tmp_path, client=client)
    assert worked and manifest.counts["accepted"] == 3 and manifest.counts["views"] == 6
    rejected = pq.read_table(tmp_path / manifest.outputs["rejected"]["path"]).to_pylist()
    assert {(row["path"], row["reason"]) for row in rejected} == {
        ("bad-2", "nan_values"), ("huge-3", "implausible_output"), ("overflow-3", "non_finite_output"),
    }  # fmt: skip
    assert not any("No space" in row["detail"] for row in rejected)


def test_cached_fragment_is_checked_again_before_reuse(tmp_path):
    """A fragment damaged after it was written (here: inf put into it) is rejected, not trusted."""
    directory = tmp_path / "fragments"
    directory.mkdir()
    info = fragments.convert_to_fragment("good-4", "good-4", convert, directory)
    arrays = {name: values.copy() for name, values in fragments.read_fragment_arrays(info.path).items()}
    arrays["view1__joints_3d"][0, 0, 0] = np.inf
    with open(info.path, "wb") as handle:
        fragments.write_fragment_arrays(handle, arrays)
    again = fragments.convert_to_fragment("good-4", "good-4", convert, directory)
    assert again.path is None and again.rejection.reason == "non_finite_output"


def test_environment_failure_in_a_command_is_one_error_line_and_exit_1(capsys):
    def flow(**_):
        raise EnvironmentFailure("a.npz: OSError: No space left on device (an environment failure ...)")

    with pytest.raises(typer.Exit) as stopped:
        run_flow(flow)
    assert stopped.value.exit_code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: a.npz: OSError: No space left on device (an environment failure ...)"
    ]
