"""Versioned stages: reuse on identical inputs, new versions on changes, atomic publication, lineage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from datasets.store import open_store, write_store
from datasets.workspace import VersionNotFoundError, Workspace
from pipelines.lineage.versioning import StageRun, version_id

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
JOINT_NAMES = [f"joint_{i}" for i in range(17)]


def run_store_stage(workspace, views, config, parents=(), stage="convert-test"):
    """A minimal stage: write the views as a store and publish it. Returns (manifest, did_work)."""
    run = StageRun(workspace, stage, config=config, parents=parents)
    existing = run.existing()
    if existing is not None:
        return existing, False
    with run:
        directory = run.directory / "store"
        snapshot = write_store(directory, views, "h36m17", JOINT_NAMES, commit_metadata={"version": run.id})
        manifest = run.publish(
            counts={"views": len(views), "frames": sum(view.frames for view in views)},
            outputs={"store": run.store_output(directory, snapshot)},
            summary="test stage",
        )
    return manifest, True


def test_same_inputs_and_config_give_one_version_and_no_work(tmp_path, make_views):
    views = make_views([5, 6])
    first, worked_first = run_store_stage(tmp_path, views, {"fps": 50})
    second, worked_second = run_store_stage(tmp_path, views, {"fps": 50})
    assert (worked_first, worked_second) == (True, False)
    assert first.id == second.id
    assert [manifest.id for manifest in Workspace(tmp_path).manifests()] == [first.id]


def test_a_config_change_gives_a_second_version_and_the_first_stays_readable(tmp_path, make_views):
    views = make_views([5, 6])
    first, _ = run_store_stage(tmp_path, views, {"fps": 50})
    second, worked = run_store_stage(tmp_path, views[:1], {"fps": 25})
    assert worked and first.id != second.id
    assert len(Workspace(tmp_path).manifests("convert-test")) == 2
    np.testing.assert_array_equal(open_store(tmp_path, first.id).read("joints_3d", 1), views[1].joints_3d)
    assert open_store(tmp_path, second.id).index.num_rows == 1
    # A stage name resolves to its newest version.
    assert open_store(tmp_path, "convert-test").index.num_rows == 1


def test_manifest_records_lineage_config_code_counts_and_checksums(tmp_path, make_views):
    parent, _ = run_store_stage(tmp_path, make_views([4]), {"fps": 50}, stage="preprocess-test")
    child, _ = run_store_stage(tmp_path, make_views([3]), {"epochs": 2}, parents=[parent.id], stage="train-test")
    assert child.parents == (parent.id,)
    assert child.config == {"epochs": 2}
    assert child.counts == {"views": 1, "frames": 3}
    assert len(child.code["fingerprint"]) == 64 and "dirty" in child.code
    assert child.packages["zarr"].startswith("3.")
    store_output = child.outputs["store"]
    assert set(store_output["array_sha256"]) == {"joints_3d", "keypoints_2d"}
    assert open_store(tmp_path, child.id).array_checksums() == store_output["array_sha256"]
    assert child.started <= child.finished
    # The id is reproducible from what the manifest records.
    read = {key: parent.outputs["store"][key] for key in ("array_sha256", "index_sha256")}
    assert child.parent_content == ({"store": read},)
    code = child.code["fingerprint"]
    assert version_id(child.stage, child.parent_content, child.inputs, child.config, code) == child.id


def test_parents_must_exist(tmp_path):
    with pytest.raises(LookupError, match="preprocess-nothing-000000000000"):
        StageRun(tmp_path, "train", config={}, parents=["preprocess-nothing-000000000000"])


def test_references_resolve_by_id_prefix_and_stage_with_helpful_errors(tmp_path, make_views):
    manifest, _ = run_store_stage(tmp_path, make_views([2]), {"a": 1})
    workspace = Workspace(tmp_path)
    assert workspace.resolve(manifest.id).id == manifest.id
    assert workspace.resolve(manifest.id[: len("convert-test-") + 4]).id == manifest.id
    assert workspace.resolve("convert-test").id == manifest.id
    with pytest.raises(VersionNotFoundError, match="stages there: convert-test"):
        workspace.resolve("pretrain")


def test_failed_run_publishes_nothing_and_cleans_its_attempt(tmp_path, make_views):
    run = StageRun(tmp_path, "convert-test", config={"x": 1})
    with pytest.raises(RuntimeError, match="boom"):
        with run:
            write_store(run.directory / "store", make_views([3]), "h36m17", JOINT_NAMES)
            raise RuntimeError("boom")
    assert Workspace(tmp_path).manifests() == []
    assert not any((tmp_path / "versions" / run.id).iterdir())


def test_concurrent_publication_of_one_id_keeps_the_first(tmp_path, make_views):
    views = make_views([3])
    runs = [StageRun(tmp_path, "convert-test", config={"x": 1}) for _ in range(2)]
    published = []
    for run in runs:
        run.__enter__()
        snapshot = write_store(run.directory / "store", views, "h36m17", JOINT_NAMES)
        outputs = {"store": run.store_output(run.directory / "store", snapshot)}
        published.append((run, run.publish({"views": 1}, outputs)))
    (first_run, first), (second_run, second) = published
    assert second.outputs == first.outputs  # the loser gets the winner's manifest
    assert not second_run.directory.exists() and first_run.directory.exists()
    assert len(Workspace(tmp_path).manifests()) == 1


KILLABLE_STAGE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import synthetic_views
    from datasets.store import write_store
    from pipelines.lineage.versioning import StageRun

    workspace, marker = Path(sys.argv[1]), Path(sys.argv[2])
    pause = float(sys.argv[3])
    run = StageRun(workspace, "convert-test", config={{"fps": 50}})
    if run.existing() is None:
        with run:
            views = synthetic_views([30, 40])
            snapshot = write_store(run.directory / "store", views, "h36m17", [f"joint_{{i}}" for i in range(17)])
            marker.write_text("half-way")
            time.sleep(pause)
            run.publish({{"views": 2}}, {{"store": run.store_output(run.directory / "store", snapshot)}})
    print(run.id)
    """
)


def test_sigkill_half_way_leaves_no_version_and_the_rerun_completes(tmp_path):
    script = tmp_path / "stage.py"
    script.write_text(KILLABLE_STAGE.format(tests=str(REPOSITORY_ROOT / "tests")))
    workspace, marker = tmp_path / "workspace", tmp_path / "half-way"
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(script), str(workspace), str(marker), "60"], env=environment, cwd=REPOSITORY_ROOT
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, "the stage exited before reaching half-way"
        assert time.monotonic() < deadline, "the stage never reached half-way"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert Workspace(workspace).manifests() == []
    rerun = subprocess.run(
        [sys.executable, str(script), str(workspace), str(marker), "0"],
        env=environment,
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    version = rerun.stdout.strip().splitlines()[-1]
    manifests = Workspace(workspace).manifests()
    assert [manifest.id for manifest in manifests] == [version]
    assert open_store(workspace, version).validate() == []


def test_cli_versions_and_show_print_the_manifest(tmp_path, make_views):
    manifest, _ = run_store_stage(tmp_path, make_views([2]), {"fps": 50})
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(tmp_path)}
    listing = subprocess.run(
        [sys.executable, "flows.py", "versions", "--json"],
        cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [row["id"] for row in json.loads(listing.stdout)] == [manifest.id]
    shown = subprocess.run(
        [sys.executable, "flows.py", "show", "convert-test", "--json"],
        cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    data = json.loads(shown.stdout)
    assert {"id", "stage", "parents", "config", "counts", "outputs"} <= set(data)
    assert data["id"] == manifest.id and data["config"] == {"fps": 50}


def test_gc_deletes_leftover_attempts_and_caches_but_never_a_published_version(tmp_path, make_views):
    published, _ = run_store_stage(tmp_path, make_views([3]), {"fps": 50})
    workspace = Workspace(tmp_path)
    losing_attempt = workspace.new_attempt_directory(published.id)  # a run that lost the publication race
    fresh_attempt = workspace.new_attempt_directory("convert-test-000000000000")  # a run still writing
    finished_cache = tmp_path / "cache" / published.id
    finished_cache.mkdir(parents=True)
    assert set(workspace.unreferenced(older_than_s=3600)) == {losing_attempt, finished_cache}
    assert fresh_attempt in workspace.unreferenced(older_than_s=0)
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(tmp_path)}
    subprocess.run([sys.executable, "flows.py", "gc"], cwd=REPOSITORY_ROOT, env=environment, check=True,
                   capture_output=True)  # fmt: skip
    assert not losing_attempt.exists() and not finished_cache.exists() and fresh_attempt.exists()
    assert open_store(tmp_path, published.id).validate() == []
