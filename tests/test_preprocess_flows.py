"""The benchmark preprocess flows under Prefect, on the licence-free demo data: publish, validate, reuse."""

from __future__ import annotations

import pytest

from datasets.store import open_store
from datasets.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.mark.parametrize(
    ("flow_name", "dataset", "splits"),
    [
        ("preprocess_h36m", "h36m", {"train", "test"}),
        ("preprocess_3dhp", "mpi_inf_3dhp", {"train", "test"}),
        ("preprocess_humaneva", "humaneva", {"train", "validation", "test"}),
    ],
)
def test_flow_publishes_a_valid_store_and_reuses_it(prefect_harness, tmp_path, flow_name, dataset, splits):
    from pipelines.convert import benchmarks as preprocess

    flow = getattr(preprocess, flow_name)
    version = flow(workspace=str(tmp_path))
    store = open_store(tmp_path, version)
    assert store.validate() == []
    assert set(store.index["dataset"].to_pylist()) == {dataset}
    assert set(store.index["split"].to_pylist()) == splits
    manifest = Workspace(tmp_path).get(version)
    assert manifest.counts["accepted"] + manifest.counts["rejected"] == manifest.counts["discovered"]
    assert set(manifest.outputs) == {"store", "rejected", "summary"}
    assert flow(workspace=str(tmp_path)) == version
    assert len(Workspace(tmp_path).manifests()) == 1
