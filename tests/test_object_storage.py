"""Workspaces and pose stores on object storage: locations, then a loopback S3 server (moto) end to end.

The S3 tests start ``moto_server`` on a free loopback port (stopped by PID when the module ends), point the
standard AWS environment variables at it, and check that preprocess conversions (in-memory reader and the
Dask fragment path) publish into ``s3://.../ws`` stores equal to local runs', that windows read from them,
and that publication stays exclusive.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_views

from datasets.manifest import ManifestError
from datasets.storage import (
    ObjectPath,
    as_location,
    create_exclusively,
    icechunk_storage,
    read_parquet,
    relative_path,
    write_atomically,
)
from datasets.workspace import Manifest, Workspace

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
BUCKET = "mocaplift-test"
SERVER_START_SECONDS = 60
JOINT_NAMES = [f"joint_{i}" for i in range(17)]
AWS_VARIABLES_TO_CLEAR = ("AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN")


def manifest_named(version_id: str, outputs: dict | None = None) -> Manifest:
    return Manifest(
        id=version_id, stage=version_id.rsplit("-", 1)[0], parents=(), config={}, inputs={}, code={}, packages={},
        started="2024-01-01T00:00:00+00:00", finished="2024-01-01T00:00:01+00:00", wall_time_s=1.0, counts={},
        outputs=outputs or {},
    )  # fmt: skip


# Locations, without a server.


def test_urls_become_object_paths_and_everything_else_stays_a_local_path(tmp_path):
    """``pathlib.Path("s3://b/p")`` folds the slashes to ``s3:/b/p`` (what a Path-typed CLI option passes)."""
    assert as_location("s3://poses/lab/") == ObjectPath("s3", "poses/lab")
    assert as_location(Path("s3://poses/lab")) == ObjectPath("s3", "poses/lab")
    assert as_location("file:///data/ws") == Path("/data/ws")
    assert as_location("workspace") == Path("workspace")
    assert as_location(tmp_path) == tmp_path
    assert as_location("notaprotocol:/x") == Path("notaprotocol:/x")  # not folded: fsspec knows no such protocol
    with pytest.raises(ValueError, match="names no bucket"):
        as_location("s3://")


def test_object_paths_join_split_and_relate_like_posix_paths():
    root = as_location("s3://poses/lab")
    store = root / "versions/v-1" / "attempt-a" / "store"
    assert str(store) == "s3://poses/lab/versions/v-1/attempt-a/store"
    assert (store.name, str(store.parent)) == ("store", "s3://poses/lab/versions/v-1/attempt-a")
    assert root.joinpath("registry", "v.json") == root / "registry" / "v.json"
    assert relative_path(store, root) == "versions/v-1/attempt-a/store"
    assert pickle.loads(pickle.dumps(store)) == store
    with pytest.raises(ValueError, match="not inside"):
        relative_path(as_location("s3://other/lab/x"), root)
    with pytest.raises(ValueError, match="one is local"):
        relative_path(Path("/elsewhere/x"), root)


def test_exclusive_create_keeps_the_first_writer_locally_and_in_memory_storage(tmp_path):
    for target in (tmp_path / "registry" / "v.json", as_location("memory://exclusive/registry/v.json")):
        assert create_exclusively(target, b"first")
        assert not create_exclusively(target, b"second")
        assert target.read_bytes() == b"first"
    assert [path.name for path in (tmp_path / "registry").iterdir()] == ["v.json"]  # no temporary file left


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "nested" / "fragment.bin"
    write_atomically(target, lambda handle: handle.write(b"old"))
    write_atomically(target, lambda handle: handle.write(b"new content"))
    assert target.read_bytes() == b"new content"
    assert [path.name for path in target.parent.iterdir()] == ["fragment.bin"]


def test_registry_in_object_storage_publishes_lists_and_resolves():
    """On fsspec's in-memory filesystem: the second publication of an id returns the first manifest."""
    workspace = Workspace("memory://registry-test/ws")
    summary = "versions/convert-test-aaaaaaaaaaaa/attempt-a/summary.md"  # outputs lie inside their version
    first = manifest_named("convert-test-aaaaaaaaaaaa", {"summary": {"path": summary}})
    assert workspace.publish(first) == first
    assert workspace.publish(manifest_named("convert-test-aaaaaaaaaaaa")) == first
    workspace.publish(manifest_named("other-bbbbbbbbbbbb"))
    assert [manifest.id for manifest in workspace.manifests()] == ["convert-test-aaaaaaaaaaaa", "other-bbbbbbbbbbbb"]
    assert workspace.resolve("convert-test").id == first.id
    assert workspace.get("missing-000000000000") is None
    assert workspace.output_path(first, "summary") == as_location(f"memory://registry-test/ws/{summary}")
    with pytest.raises(ManifestError, match="outside the version's directory"):
        workspace.output_path(manifest_named("other-bbbbbbbbbbbb", {"s": {"path": "versions/x/../../s"}}), "s")


def test_local_directory_is_inside_a_local_workspace_and_in_the_cache_for_a_bucket(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "cache"))
    assert Workspace(tmp_path / "ws").local_directory("demo", "h36m") == tmp_path / "ws" / "demo" / "h36m"
    first = Workspace("s3://poses/lab").local_directory("demo")
    second = Workspace("s3://poses/other").local_directory("demo")
    assert first.parent.parent == tmp_path / "cache" and first.name == "demo" and first != second
    assert Workspace("s3://poses/lab").local_directory("demo") == first  # stable for one URL


def test_stores_need_a_protocol_icechunk_supports():
    with pytest.raises(ValueError, match="protocol 'memory'"):
        icechunk_storage(as_location("memory://bucket/store/arrays.icechunk"))


# A loopback S3 server.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """``moto_server`` on 127.0.0.1:<free port>; its URL. Stopped by PID when the module's tests end."""
    if shutil.which("moto_server") is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=output, stderr=output)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert server.poll() is None, f"moto_server exited: {log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"moto_server did not listen on port {port}"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    """The AWS environment pointing at the server, with the bucket created; yields the bucket's URL."""
    import boto3

    with pytest.MonkeyPatch.context() as patch:
        for name in AWS_VARIABLES_TO_CLEAR:
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=BUCKET)
        yield f"s3://{BUCKET}"


@pytest.fixture(scope="module")
def dask(s3):
    """Two local worker processes, started after the environment is set so they inherit it."""
    from pipelines.convert.workers import dask_client

    with dask_client(workers=2, quiet=True) as client:
        yield client


def bucket_keys(prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [entry["Key"] for page in pages for entry in page.get("Contents", [])]


@pytest.fixture(scope="module")
def h36m_demo(tmp_path_factory):
    from datasets.synthetic.h36m_archive import build_demo_h36m

    return build_demo_h36m(tmp_path_factory.mktemp("h36m_demo"))


def convert_h36m(workspace, source: Path):
    from datasets.h36m import read_h36m
    from pipelines.convert.conversion import run_reader_conversion

    return run_reader_conversion(
        "preprocess-h36m", {"format": None}, {"source": "demo"}, partial(read_h36m, source, {}, None),
        {"dataset": "h36m"}, workspace,
    )  # fmt: skip


@pytest.mark.slow
def test_reader_conversion_publishes_to_s3_and_reads_back_as_locally(s3, h36m_demo, tmp_path):
    """One store in the bucket, one on disk, from the same demo source: identical values, windows included."""
    from datasets.store import PoseStore, open_store
    from datasets.windows import PoseWindows, WindowConfig

    url = f"{s3}/reader"
    manifest, worked = convert_h36m(url, h36m_demo)
    local_manifest, _ = convert_h36m(tmp_path, h36m_demo)
    assert worked and manifest.id == local_manifest.id
    assert set(manifest.outputs) == {"store", "rejected", "summary"}
    store_path = manifest.outputs["store"]["path"]
    assert store_path.startswith(f"versions/{manifest.id}/attempt-") and store_path.endswith("/store")
    keys = bucket_keys("reader/")
    assert f"reader/registry/{manifest.id}.json" in keys
    assert f"reader/{store_path}/index.parquet" in keys
    assert not (REPOSITORY_ROOT / "s3:").exists()  # nothing fell back to a local folder named after the URL

    store, local = open_store(url, manifest.id), open_store(tmp_path, manifest.id)
    assert isinstance(store.directory, ObjectPath)
    assert store.validate() == []
    assert store.array_checksums() == local.array_checksums() == manifest.outputs["store"]["array_sha256"]
    assert store.index.equals(local.index)
    np.testing.assert_array_equal(
        store.window("keypoints_2d", 1, start=-5, length=40), local.window("keypoints_2d", 1, start=-5, length=40)
    )
    copied = pickle.loads(pickle.dumps(store))  # re-opens the same location and snapshot
    assert isinstance(copied, PoseStore) and copied.snapshot == store.snapshot
    np.testing.assert_array_equal(copied.read("joints_3d", 0), local.read("joints_3d", 0))
    config = WindowConfig(frames=27, sampling="clips", cache="chunks")
    remote_windows, local_windows = PoseWindows(store, config), PoseWindows(local, config)
    keys_to_read = [(0, 0), (0, len(remote_windows) - 1)]
    remote_batch = pickle.loads(pickle.dumps(remote_windows)).__getitems__(keys_to_read)
    local_batch = local_windows.__getitems__(keys_to_read)
    for name, values in local_batch.items():
        np.testing.assert_array_equal(np.asarray(remote_batch[name]), np.asarray(values), err_msg=name)
    rejected = read_parquet(Workspace(url).output_path(manifest, "rejected"))
    assert rejected.num_rows == manifest.counts["rejected"]

    again, worked_again = convert_h36m(url, h36m_demo)
    assert (again.id, worked_again) == (manifest.id, False)
    assert len(Workspace(url).manifests()) == 1

    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
    listing = subprocess.run(
        [sys.executable, "flows.py", "versions", "--workspace", url, "--json"],
        cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [row["id"] for row in json.loads(listing.stdout)] == [manifest.id]
    shown = subprocess.run(
        [sys.executable, "flows.py", "show", "preprocess-h36m", "--workspace", url, "--json"],
        cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(shown.stdout)["outputs"]["store"]["path"] == store_path


def convert_item(item: str):
    """``good-<n>``: 2 views of n and n + 1 frames; ``bad-*``: rejected. A top-level function for Dask."""
    from datasets.views import Rejection

    if item.startswith("bad"):
        return Rejection(item, "nan_values", "poses hold NaN")
    frames = int(item.split("-")[1])
    return synthetic_views([frames, frames + 1], seed=frames)


@pytest.mark.slow
def test_dask_conversion_writes_fragments_and_forked_blocks_to_s3(s3, dask, tmp_path):
    """2 items x 2 views of 2100..2103 frames = 8406 frames: 3 chunks of 4096, so 3 forked block writes."""
    from datasets.store import open_store
    from datasets.store.fragments import FRAGMENT_SUFFIX, fragment_stem, load_fragment_view
    from pipelines.convert.conversion import Conversion, run_conversion
    from pipelines.convert.store_build import convert_items

    conversion = Conversion(
        stage="preprocess-test", config={"fps": 50}, inputs={"files": "abc"},
        items=["good-2100", "bad-1", "good-2102"], convert=convert_item, skeleton="h36m17", joint_names=JOINT_NAMES,
    )  # fmt: skip
    url = f"{s3}/dask"
    manifest, worked = run_conversion(conversion, url, client=dask)
    local_manifest, _ = run_conversion(conversion, tmp_path, client=dask)
    assert worked and manifest.counts == {"discovered": 3, "accepted": 2, "rejected": 1, "views": 4, "frames": 8406}
    store = open_store(url, manifest.id)
    assert store.validate() == []
    assert store.array_checksums() == open_store(tmp_path, local_manifest.id).array_checksums()
    np.testing.assert_array_equal(store.read("joints_3d", 3), synthetic_views([2102, 2103], seed=2102)[1].joints_3d)
    rejected = read_parquet(Workspace(url).output_path(manifest, "rejected")).to_pylist()
    assert [(row["path"], row["reason"]) for row in rejected] == [("bad-1", "nan_values")]
    assert bucket_keys(f"dask/cache/{manifest.id}/") == []  # fragments dropped once published
    assert run_conversion(conversion, url, client=dask) == (manifest, False)

    # What the workers wrote: the fragment and its done-marker, as objects in the bucket.
    (info,) = convert_items(dask, ["good-5"], convert_item, as_location(f"{url}/fragments"))
    assert info.path == f"{url}/fragments/{fragment_stem('good-5')}{FRAGMENT_SUFFIX}"
    assert sorted(bucket_keys("dask/fragments/")) == [f"dask/fragments/{fragment_stem('good-5')}{suffix}"
                                                      for suffix in (".json", FRAGMENT_SUFFIX)]  # fmt: skip
    np.testing.assert_array_equal(load_fragment_view(info.path, 1, ["joints_3d"])["joints_3d"],
                                  synthetic_views([5, 6], seed=5)[1].joints_3d)  # fmt: skip


@pytest.mark.slow
def test_two_publications_of_one_id_on_s3_keep_the_first(s3):
    from datasets.store import write_store
    from pipelines.lineage.versioning import StageRun

    url = f"{s3}/race"
    views = synthetic_views([3])
    runs = [StageRun(url, "convert-test", config={"x": 1}) for _ in range(2)]
    published = []
    for run in runs:
        run.__enter__()
        snapshot = write_store(run.directory / "store", views, "h36m17", JOINT_NAMES)
        published.append(run.publish({"views": 1}, {"store": run.store_output(run.directory / "store", snapshot)}))
    assert published[1] == published[0]
    assert not bucket_keys(f"race/{relative_path(runs[1].directory, as_location(url))}/")  # the loser's attempt
    assert bucket_keys(f"race/{published[0].outputs['store']['path']}/")
    assert [manifest.id for manifest in Workspace(url).manifests()] == [published[0].id]

    target = as_location(f"{url}/registry/contended.json")
    with ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda number: create_exclusively(target, str(number).encode()), range(8)))
    assert created.count(True) == 1
    assert target.read_bytes() == str(created.index(True)).encode()


@pytest.mark.slow
def test_a_failed_run_on_s3_leaves_no_version_and_no_attempt(s3):
    from datasets.store import write_store
    from pipelines.lineage.versioning import StageRun

    url = f"{s3}/failed"
    run = StageRun(url, "convert-test", config={"x": 2})
    with pytest.raises(RuntimeError, match="boom"):
        with run:
            write_store(run.directory / "store", synthetic_views([3]), "h36m17", JOINT_NAMES)
            assert bucket_keys(f"failed/versions/{run.id}/")
            raise RuntimeError("boom")
    assert Workspace(url).manifests() == []
    assert bucket_keys("failed/") == []


@pytest.mark.slow
def test_the_main_job_runs_on_an_s3_workspace_and_a_rerun_reuses_it(s3, tmp_path):
    """`python flows.py pretrain-finetune --workspace s3://...`: stores, checkpoints and reports in the bucket.

    Four optimiser steps per training: what is checked is where things are published, not what is learnt.
    """
    url = f"{s3}/main-job"
    environment = {
        **os.environ,
        "MOCAPLIFT_CACHE": str(tmp_path / "cache"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    runs = [
        subprocess.run(
            [sys.executable, "flows.py", "pretrain-finetune", "--max-steps", "4", "--workspace", url],
            cwd=REPOSITORY_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )  # fmt: skip
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "| from scratch |" in run.stdout + run.stderr
    assert (runs[1].stdout + runs[1].stderr).count("reused version") == 6
    registry = Workspace(url)
    assert {manifest.stage for manifest in registry.manifests()} == {
        "preprocess-amass", "preprocess-h36m", "pretrain", "finetune", "evaluate", "baseline",
    }  # fmt: skip
    [evaluation, *_] = registry.manifests("evaluate")
    assert registry.output_path(evaluation, "report").read_text().startswith("#")
    keys = bucket_keys("main-job/versions/pretrain-")
    assert any(key.endswith("checkpoint_best.pt") for key in keys)
    assert any("/tensorboard/" in key for key in keys)
