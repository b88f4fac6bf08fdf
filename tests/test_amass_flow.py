"""The preprocess-amass flow end to end: worker-count independence, reuse, bad files, the real sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fixture_archives import write_bad_amass_files

from datasets.cameras import Camera, project
from datasets.skeletons import get_skeleton
from datasets.store import open_store
from datasets.synthetic.amass_archive import build_demo_amass
from datasets.workspace import Workspace

pytestmark = pytest.mark.slow

REAL_SAMPLE_FRAMES = 500
REAL_SAMPLE_FPS = 120.0
TARGET_FPS = 50.0


@pytest.fixture(scope="module")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo_amass(tmp_path_factory.mktemp("demo_amass"))


def run_flow(demo, workspace, amass_root=None, workers=None):
    from pipelines.convert.amass import preprocess_amass
    from pipelines.convert.run_options import RunOptions

    options = {"amass_root": str(amass_root or demo.amass_root), "body_models": str(demo.body_models),
               "regressor": str(demo.regressor), "regressor_order": demo.regressor_order}  # fmt: skip
    return preprocess_amass(options=options, run=RunOptions(workers=workers), workspace=str(workspace))


def test_store_is_identical_with_one_and_two_workers_and_a_rerun_reuses_it(prefect_harness, demo, tmp_path):
    one = run_flow(demo, tmp_path / "one", workers=1)
    two = run_flow(demo, tmp_path / "two", workers=2)
    assert one == two  # the worker count is not part of the version
    first, second = Workspace(tmp_path / "one").get(one), Workspace(tmp_path / "two").get(two)
    assert first.outputs["store"]["array_sha256"] == second.outputs["store"]["array_sha256"]
    assert first.outputs["store"]["index_sha256"] == second.outputs["store"]["index_sha256"]
    store = open_store(tmp_path / "one", one)
    assert store.validate() == []
    assert set(store.index["split"].to_pylist()) == {"train", "validation"}
    assert run_flow(demo, tmp_path / "one", workers=2) == one
    assert len(Workspace(tmp_path / "one").manifests()) == 1


def test_bad_files_are_listed_with_reasons_and_good_files_kept(prefect_harness, demo, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(demo.amass_root, archive)
    expected_bad = write_bad_amass_files(archive)
    good = sorted(
        path for path in archive.rglob("*.npz")
        if str(path.relative_to(archive)) not in expected_bad and path.name != "shape.npz"
        and not path.name.endswith("_stagei.npz")
    )  # fmt: skip
    version = run_flow(demo, tmp_path / "workspace", amass_root=archive, workers=2)
    manifest = Workspace(tmp_path / "workspace").get(version)
    rejected = pq.read_table(Workspace(tmp_path / "workspace").output_path(manifest, "rejected")).to_pylist()
    reasons = {str(Path(row["path"]).relative_to(archive)): row["reason"] for row in rejected}
    assert reasons == {path: str(reason) for path, reason in expected_bad.items()}
    assert all(row["detail"] for row in rejected)
    counts = manifest.counts
    assert counts["accepted"] + counts["rejected"] == counts["discovered"]
    assert counts["accepted"] == len(good)
    store = open_store(tmp_path / "workspace", version)
    assert len(set(store.index["sequence"].to_pylist())) == len({path.stem for path in good})


def test_real_sample_bones_are_rigid_frames_resampled_and_projection_reproduced(prefect_harness, demo, tmp_path,
                                                                                amass_sample):  # fmt: skip
    """The real AMASS recording (500 frames at 120 Hz) with the synthetic body model.

    Expected frame count: floor(500 / 120 * 50) = floor(208.33) = 208 per view.
    """
    archive = tmp_path / "archive"
    (archive / "CMU" / "sample").mkdir(parents=True)
    shutil.copy(amass_sample, archive / "CMU" / "sample" / "sample_poses.npz")
    version = run_flow(demo, tmp_path / "workspace", amass_root=archive, workers=1)
    store = open_store(tmp_path / "workspace", version)
    skeleton = get_skeleton("h36m17")
    assert store.index.num_rows == 4  # the four Human3.6M cameras
    for row in store.index.to_pylist():
        assert row["length"] == int(REAL_SAMPLE_FRAMES / REAL_SAMPLE_FPS * TARGET_FPS) == 208
        joints = store.read("joints_3d", row["view_id"])
        bones = np.stack([np.linalg.norm(joints[:, child] - joints[:, parent], axis=-1)
                          for parent, child in skeleton.bones], axis=1)  # fmt: skip
        assert bones.std(axis=0).max() < 1e-3  # metres: every bone rigid to within 1 mm
        camera = Camera.from_index_row(row)
        reprojected = project(joints.astype(np.float64), camera)
        np.testing.assert_allclose(reprojected, store.read("keypoints_2d", row["view_id"]), atol=1e-3)


def test_command_with_no_arguments_runs_on_the_embedded_default(tmp_path):
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(tmp_path)}
    run = subprocess.run([sys.executable, "flows.py", "preprocess-amass"], cwd=root, env=environment,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    listing = subprocess.run([sys.executable, "flows.py", "versions", "preprocess-amass", "--json"], cwd=root,
                             env=environment, capture_output=True, text=True, check=True)  # fmt: skip
    versions = json.loads(listing.stdout)
    assert len(versions) == 1 and versions[0]["counts"]["accepted"] > 0
    assert f"version {versions[0]['id']}" in run.stdout
