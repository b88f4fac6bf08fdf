"""`python flows.py pretrain-finetune` on the embedded default, twice; an interrupted pretrain resumes exactly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.store import open_store
from datasets.workspace import Workspace
from lifting.training import load_checkpoint

pytestmark = pytest.mark.slow

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
STEPS_BEFORE_THE_SIGNAL = 5


def flows(*arguments: str, workspace: Path, **kwargs) -> subprocess.CompletedProcess:
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(workspace), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run([sys.executable, "flows.py", *arguments], cwd=REPOSITORY_ROOT, env=environment,
                          capture_output=True, text=True, timeout=900, **kwargs)  # fmt: skip


@pytest.fixture(scope="module")
def default_workspace(tmp_path_factory) -> tuple[Path, str, str]:
    """A workspace after `python flows.py pretrain-finetune` ran twice on the embedded default."""
    workspace = tmp_path_factory.mktemp("default")
    first = flows("pretrain-finetune", workspace=workspace)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = flows("pretrain-finetune", workspace=workspace)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return workspace, first.stdout + first.stderr, second.stdout + second.stderr


def comparison_rows(output: str) -> dict[str, dict[str, float]]:
    """The printed comparison table: route -> metric -> value (the last table printed)."""
    [header] = [line for line in output.splitlines() if line.startswith("| route |")][-1:]
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and len(cells) == len(columns) and cells[0] in ROUTES:
            rows[cells[0]] = {column: float(cell) for column, cell in zip(columns[1:], cells[1:], strict=True)}
    return rows


ROUTES = ("mean pose", "pretrained + finetuned", "from scratch")


def test_embedded_default_prints_the_comparison_and_a_second_run_reuses_every_version(default_workspace):
    workspace, first, second = default_workspace
    stages = {manifest.stage for manifest in Workspace(workspace).manifests()}
    assert stages == {"preprocess-amass", "preprocess-h36m", "pretrain", "finetune", "evaluate", "baseline"}
    assert len(Workspace(workspace).manifests("finetune")) == 2  # pretrained + finetuned, and from scratch
    assert len(Workspace(workspace).manifests("evaluate")) == 2
    for output in (first, second):
        assert set(comparison_rows(output)) == set(ROUTES)
    assert second.count("reused version") == 6 and "published version" not in second
    assert comparison_rows(first) == comparison_rows(second)


def test_the_demo_learns_and_pretraining_helps(default_workspace):
    """The embedded default, with the fixed seeds, learns.

    The finetuned model must halve the constant-pose baseline's MPJPE (it has learnt to lift), and AMASS
    pretraining must be worth at least 10 % of MPJPE at the same finetuning budget, P-MPJPE agreeing.
    """
    _, first, _ = default_workspace
    rows = comparison_rows(first)
    baseline, pretrained, scratch = (rows[route] for route in ROUTES)
    assert pretrained["mpjpe_mm"] <= 0.5 * baseline["mpjpe_mm"], rows
    assert pretrained["mpjpe_mm"] <= 0.9 * scratch["mpjpe_mm"], rows
    assert pretrained["p_mpjpe_mm"] < scratch["p_mpjpe_mm"], rows
    assert pretrained["mpjpe x mean pose"] == pytest.approx(pretrained["mpjpe_mm"] / baseline["mpjpe_mm"], abs=0.01)


def test_finetuned_version_traces_back_to_the_pretraining_data(default_workspace):
    workspace, _, _ = default_workspace
    registry = Workspace(workspace)
    [pretrained] = registry.manifests("pretrain")
    finetuned = [manifest for manifest in registry.manifests("finetune") if pretrained.id in manifest.parents]
    assert len(finetuned) == 1
    lineage = {registry.get(parent).stage for parent in finetuned[0].parents}
    assert lineage == {"preprocess-h36m", "pretrain"}
    assert registry.get(pretrained.parents[0]).stage == "preprocess-amass"
    for evaluation in registry.manifests("evaluate"):
        assert {registry.get(parent).stage for parent in evaluation.parents} == {"finetune", "preprocess-h36m"}
        assert (workspace / evaluation.outputs["report"]["path"]).read_text().startswith("#")
    [baseline] = registry.manifests("baseline")
    assert [registry.get(parent).stage for parent in baseline.parents] == ["preprocess-h36m"]


def test_interrupted_pretrain_resumed_equals_the_uninterrupted_run(default_workspace, tmp_path):
    source, _, _ = default_workspace
    registry = Workspace(source)
    [uninterrupted] = registry.manifests("pretrain")
    interrupted_workspace = tmp_path / "workspace"
    shutil.copytree(source / "registry", interrupted_workspace / "registry")
    for manifest in registry.manifests("preprocess-amass"):
        shutil.copytree(source / "versions" / manifest.id, interrupted_workspace / "versions" / manifest.id)
    os.remove(interrupted_workspace / "registry" / f"{uninterrupted.id}.json")

    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(interrupted_workspace),
                   "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    run = subprocess.Popen([sys.executable, "flows.py", "pretrain"], cwd=REPOSITORY_ROOT, env=environment,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    metrics = interrupted_workspace / "cache" / uninterrupted.id / "train" / "metrics.jsonl"
    deadline = time.monotonic() + 600
    while not metrics.exists() or metrics.read_text().count('"kind": "step"') < STEPS_BEFORE_THE_SIGNAL:
        assert run.poll() is None, run.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "training never reached the signal"
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=600)[0]
    assert run.returncode != 0 and "--resume" in output, output[-3000:]
    assert Workspace(interrupted_workspace).manifests("pretrain") == []

    resumed = flows("pretrain", "--resume", workspace=interrupted_workspace)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    [published] = Workspace(interrupted_workspace).manifests("pretrain")
    assert published.id == uninterrupted.id

    def losses(workspace: Path, manifest) -> list[float]:
        lines = (workspace / manifest.outputs["metrics"]["path"]).read_text().splitlines()
        records = [json.loads(line) for line in lines]
        return [record["loss"] for record in records if record["kind"] == "step"]

    assert losses(interrupted_workspace, published) == losses(source, uninterrupted)
    weights = [
        load_checkpoint(workspace / manifest.outputs["checkpoint_best"]["path"])["state"]["model"]
        for workspace, manifest in ((interrupted_workspace, published), (source, uninterrupted))
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_lift_with_no_arguments_lifts_the_demo_detections_and_a_rerun_reuses_it(default_workspace):
    """`python flows.py lift` after pretrain-finetune: the demo's COCO-17 file (S9's 114-frame walking take in
    its first camera, 50 Hz) lifted with the pretrained + finetuned checkpoint into a lift version whose parent is
    that checkpoint, holding poses_3d.npz ((114, 17, 3) metres, pelvis at the origin), poses_3d.json and
    viewer.html; the second person is named and the longest track lifted; a second run reuses the version. The
    lift is closer to the take's ground truth (the demo store's S9 Walking in camera 54138969, root-relative)
    than the mean-pose baseline is to the test split on average: the model lifts detector-like input."""
    workspace, _, _ = default_workspace
    first = flows("lift", workspace=workspace)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = flows("lift", workspace=workspace)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    registry = Workspace(workspace)
    [manifest] = registry.manifests("lift")
    [pretrained] = registry.manifests("pretrain")
    [finetuned] = [version for version in registry.manifests("finetune") if pretrained.id in version.parents]
    assert manifest.parents == (finetuned.id,)
    assert {"poses_3d", "poses_3d_json", "viewer", "rejected"} <= set(manifest.outputs)
    assert f"lift: published version {manifest.id}" in first.stdout and "lifted 1 (" in first.stdout
    assert f"lift: reused version {manifest.id}" in second.stdout
    saved = np.load(registry.output_path(manifest, "poses_3d"))
    assert saved["poses_3d"].shape == (114, 17, 3) and saved["fps"] == 50.0
    np.testing.assert_array_equal(saved["poses_3d"][:, 0], 0.0)
    assert not saved["observed"][40:46].any()  # the frames the demo detector missed, filled
    assert json.loads(registry.output_path(manifest, "poses_3d_json").read_text())["person"] == "1"
    assert "coco17_detections.json" in registry.output_path(manifest, "viewer").read_text()
    store = open_store(workspace, "preprocess-h36m")
    [view] = [row for row in store.index.to_pylist()
              if (row["subject"], row["sequence"], row["camera"]) == ("S9", "Walking", "54138969")]  # fmt: skip
    truth = store.read("joints_3d", view["view_id"])
    error_mm = np.linalg.norm(saved["poses_3d"] - (truth - truth[:, :1]), axis=-1).mean() * 1000
    [baseline] = registry.manifests("baseline")
    assert error_mm < baseline.metadata["summary"]["mpjpe_mm"], error_mm
