"""`import-checkpoint` makes a checkpoint version with lineage, reused on reimport; evaluate and finetune accept it.

The released files are the golden fixtures of ``tests/test_import_checkpoint.py`` (written by the authors' code,
``tests/golden/make_released_checkpoints.py``); the presets are written from their recorded sizes there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import synthetic_views
from test_import_checkpoint import mixste_preset, released_file, strided_preset

from datasets.skeletons import get_skeleton
from datasets.store import write_store
from datasets.store.reader import open_store
from datasets.workspace import Workspace
from lifting.training import TrainingConfig, load_checkpoint, train
from pipelines.evaluate.flows import evaluation_version
from pipelines.lift.import_checkpoint import import_checkpoint
from pipelines.lineage.versioning import StageRun
from pipelines.orchestration import run_in_process

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
MIXSTE_FILE = "released_checkpoint_mixste.bin"


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, str, str, Path]:
    """A workspace after importing the MixSTE fixture twice: (workspace, first id, second id, preset)."""
    directory = tmp_path_factory.mktemp("import")
    preset = mixste_preset(directory)
    source = released_file(MIXSTE_FILE, directory)
    parameters = {"source": str(source), "model": "mixste", "preset": str(preset), "training_preset": "demo",
                  "workspace": str(directory / "workspace")}  # fmt: skip
    first = run_in_process(import_checkpoint, parameters)
    copy = directory / "elsewhere.bin"  # the same content under another name and place
    copy.write_bytes(source.read_bytes())
    second = run_in_process(import_checkpoint, {**parameters, "source": str(copy)})
    return directory / "workspace", first, second, preset


def test_importing_the_same_file_again_reuses_the_version(imported):
    workspace, first, second, _ = imported
    assert first == second
    assert [manifest.id for manifest in Workspace(workspace).manifests("import-checkpoint")] == [first]


def test_the_version_records_the_file_hash_the_preset_and_the_mapping_code(imported, tmp_path):
    """The file's SHA-256 (computed here with hashlib), the preset and its resolved config, and the importer's
    modules in the code identity; the checkpoint holds the config exactly as a trained one does."""
    workspace, version, _, preset = imported
    manifest = Workspace(workspace).get(version)
    unpacked = released_file(MIXSTE_FILE, tmp_path)
    assert manifest.inputs == {"source_sha256": hashlib.sha256(unpacked.read_bytes()).hexdigest()}
    assert manifest.config["model"] == "mixste" and manifest.config["model_preset"] == str(preset)
    assert manifest.config["model_config"]["dim"] == 8 and manifest.config["model_config"]["depth"] == 2
    assert manifest.config["released"]["repository"] == "JinluZhang1126/MixSTE"
    assert manifest.config["fps"] == 50.0  # MixSTE trained on Human3.6M at 50 Hz (VideoPose3D's files)
    assert {"lifting.released.importer", "lifting.released.torch_layouts", "lifting.models.mixste"} <= set(
        manifest.code["sources"]
    )
    assert "lifting.models.strided" not in manifest.code["sources"]
    checkpoint = load_checkpoint(Workspace(workspace).output_path(manifest, "checkpoint_best"))
    assert checkpoint["model"]["name"] == "mixste" and checkpoint["model"]["config"] == manifest.config["model_config"]


def _store_version(workspace: Path):
    """A pose store version of two synthetic Human3.6M views (conftest): S9 test (30 frames), S1 train (40)."""
    views = synthetic_views([30, 40])
    for view, (subject, split) in zip(views, (("S9", "test"), ("S1", "train")), strict=True):
        view.subject, view.split, view.dataset, view.action = subject, split, "h36m", "Walking"
    run = StageRun(workspace, "preprocess-test", config={"views": "synthetic S9 test, S1 train"})
    with run:
        snapshot = write_store(run.directory / "store", views, "h36m17", get_skeleton("h36m17").joint_names)
        return run.publish(counts={"views": 2}, outputs={"store": run.store_output(run.directory / "store", snapshot)})


def test_evaluate_and_finetune_accept_the_imported_checkpoint(imported, tmp_path, monkeypatch):
    """The ``evaluate`` task scores the imported version (it has no training metrics) on a store version: 30
    frames, a finite MPJPE. Finetuning starts from it: one AdamW step moves a weight by about the learning rate
    (1e-20, no weight decay), invisible next to weights of about 0.3 in float32, so the finetuned weights equal
    the imported ones."""
    workspace, version, _, preset = imported
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "cache"))
    data = _store_version(workspace)
    evaluation = evaluation_version.fn(str(workspace), version, data.id, "test", "quick", "cpu")
    assert list(evaluation.parents) == [version, data.id] and evaluation.counts["frames"] == 30
    assert np.isfinite(evaluation.metadata["summary"]["mpjpe_mm"])
    path = Workspace(workspace).output_path(Workspace(workspace).get(version), "checkpoint_best")
    config = TrainingConfig(
        epochs=1, steps_per_epoch=1, batch_size=2, learning_rate=1e-20, weight_decay=0.0, progress_bar=False
    )
    store = open_store(workspace, data.id)
    run = train("mixste", str(preset), store, None, config, tmp_path / "finetune", init_checkpoint=path, device="cpu")
    finetuned = load_checkpoint(run.checkpoint_last)["state"]["model"]
    imported_state = load_checkpoint(path)["state"]["model"]
    assert all(torch.equal(finetuned[key], value) for key, value in imported_state.items())


def test_the_command_refuses_a_pickled_payload_in_one_error_line(tmp_path):
    """``python flows.py import-checkpoint`` on a .pth whose pickle would run ``touch``: exit 1, one ``error:``
    line naming the file, and the marker file never appears."""
    marker = tmp_path / "marker"
    source = tmp_path / "no_refine_4_4450.pth"
    torch.save({"x": torch.zeros(1), "y": _Touch(marker)}, source)
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(tmp_path / "workspace"), "PYTHONPATH": str(REPOSITORY_ROOT)}
    completed = subprocess.run(
        [sys.executable, "flows.py", "import-checkpoint", str(source), "--model", "strided", "--preset",
         str(strided_preset(tmp_path)), "--training-preset", "demo"],
        cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert len(errors) == 1 and f"{source} refused: its pickle asks for" in errors[0]
    assert "Traceback" not in completed.stderr and not marker.exists()


class _Touch:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_the_served_flow_without_a_file_says_what_to_give(tmp_path):
    """A Prefect deployment run passes no parameters: the flow stops naming the file, --model and --preset."""
    with pytest.raises(ValueError, match=r"import-checkpoint needs the released file, --model and --preset"):
        run_in_process(import_checkpoint, {"workspace": str(tmp_path)})
