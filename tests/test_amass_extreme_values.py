"""One AMASS file with an extreme value (``trans = 1e39``: finite in float64, inf in float32) is rejected by
name and the rest of the batch publishes; before, it passed the per-file checks and failed the whole store."""

from __future__ import annotations

import shutil
from functools import partial

import numpy as np
import pyarrow.parquet as pq
import pytest

from datasets.amass.config import AmassConfig
from datasets.amass.convert import convert_amass_file
from datasets.amass.discovery import discover, manifest_files
from datasets.skeletons import get_skeleton
from datasets.synthetic.amass_archive import build_demo_amass
from pipelines.convert.conversion import Conversion, run_conversion

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster) as dask:
            yield dask


def test_trans_1e39_file_is_rejected_by_name_and_the_rest_publishes(tmp_path, client):
    demo = build_demo_amass(tmp_path / "demo")
    archive = tmp_path / "archive"
    shutil.copytree(demo.amass_root, archive)
    source = sorted(archive.rglob("*_poses.npz"))[0]
    with np.load(source) as loaded:
        arrays = {name: loaded[name] for name in loaded.files}
    arrays["trans"] = arrays["trans"].copy()
    arrays["trans"][len(arrays["trans"]) // 2, 0] = 1e39
    extreme = source.with_name("extreme_poses.npz")
    np.savez(extreme, **arrays)
    config = AmassConfig(amass_root=archive, body_models=demo.body_models, regressor=demo.regressor,
                         regressor_order=demo.regressor_order)  # fmt: skip
    items = manifest_files(discover(config))
    skeleton = get_skeleton("h36m17")
    conversion = Conversion(
        stage="preprocess-amass-test", config={}, inputs={}, items=items, convert=partial(convert_amass_file,
        config=config), skeleton=skeleton.name, joint_names=skeleton.joint_names, attributes={"dataset": "amass"},
    )  # fmt: skip
    manifest, _ = run_conversion(conversion, tmp_path / "workspace", client=client)
    rejected = pq.read_table(tmp_path / "workspace" / manifest.outputs["rejected"]["path"]).to_pylist()
    by_path = {row["path"]: row for row in rejected}
    assert by_path[str(extreme)]["reason"] in ("non_finite_output", "implausible_output")
    assert manifest.counts["accepted"] == len(items) - len(rejected) > 0
