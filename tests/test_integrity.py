"""Corruption is detected: `verify` re-hashes outputs, training refuses a changed store, `versions` marks losses.

Stores here are small (a few chunks per array): flipping one byte in the middle of a zstd chunk changes its
decoded values or makes it undecodable; either way the array's recorded value checksum no longer matches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import synthetic_views

from datasets.store import write_store
from datasets.store.integrity import VERIFIED_DIRECTORY, StoreIntegrityError, open_verified_store
from datasets.workspace import Workspace
from pipelines.lineage.versioning import StageRun, missing_outputs, verify_version

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
JOINT_NAMES = [f"joint_{i}" for i in range(17)]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOCAPLIFT_CACHE", str(tmp_path / "cache"))


def publish_store(workspace: Path):
    """One published version holding a store of 3 views (120, 7, 90 frames), as ``run_store_stage`` does."""
    run = StageRun(workspace, "convert-test", config={"fps": 50})
    with run:
        directory = run.directory / "store"
        snapshot = write_store(directory, synthetic_views([120, 7, 90]), "h36m17", JOINT_NAMES)
        return run.publish(counts={"views": 3}, outputs={"store": run.store_output(directory, snapshot)})


def chunk_files(workspace: Path, manifest) -> list[Path]:
    chunks = workspace / manifest.outputs["store"]["path"] / "arrays.icechunk" / "chunks"
    return sorted(chunks.iterdir(), key=lambda path: -path.stat().st_size)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def flows(*arguments: str, workspace: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "MOCAPLIFT_WORKSPACE": str(workspace)}
    return subprocess.run([sys.executable, "flows.py", *arguments], cwd=REPOSITORY_ROOT, env=environment,
                          capture_output=True, text=True)  # fmt: skip


def test_intact_version_verifies_and_opens(tmp_path):
    manifest = publish_store(tmp_path)
    registry = Workspace(tmp_path)
    assert verify_version(registry, manifest) == [] and missing_outputs(registry, manifest) == []
    assert open_verified_store(tmp_path, manifest.id).frames == 217
    assert len(list((tmp_path / "cache" / VERIFIED_DIRECTORY).iterdir())) == 1  # remembered as intact


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8])
def test_flipped_chunk_byte_is_reported_by_verify_and_refused_for_training(tmp_path, fraction):
    """Checked (and remembered as intact) first: the flip changes the chunk's modification time, so the
    remembered verdict no longer applies and the store is re-hashed."""
    manifest = publish_store(tmp_path)
    open_verified_store(tmp_path, manifest.id)
    largest = chunk_files(tmp_path, manifest)[0]
    flip_byte(largest, int(largest.stat().st_size * fraction))
    problems = verify_version(Workspace(tmp_path), manifest)
    assert problems and all(manifest.id in problem for problem in problems)
    assert any("array 'joints_3d'" in problem or "array 'keypoints_2d'" in problem for problem in problems)
    with pytest.raises(StoreIntegrityError, match=rf"(?s)refusing to use store of version {manifest.id}.*array '"):
        open_verified_store(tmp_path, manifest.id)


def test_flipped_byte_with_its_modification_time_restored_is_still_refused(tmp_path):
    """Size and mtime stay what the remembered verdict saw (``os.utime`` puts the mtime back); the inode's
    change time cannot be set back by a user, so the store is re-hashed and the flip found."""
    manifest = publish_store(tmp_path)
    open_verified_store(tmp_path, manifest.id)
    largest = chunk_files(tmp_path, manifest)[0]
    before = largest.stat()
    flip_byte(largest, largest.stat().st_size // 2)
    os.utime(largest, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (largest.stat().st_size, largest.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    with pytest.raises(StoreIntegrityError, match=rf"refusing to use store of version {manifest.id}"):
        open_verified_store(tmp_path, manifest.id)


def test_verify_command_exits_non_zero_naming_the_store(tmp_path):
    manifest = publish_store(tmp_path)
    assert flows("verify", workspace=tmp_path).returncode == 0
    largest = chunk_files(tmp_path, manifest)[0]
    flip_byte(largest, largest.stat().st_size // 2)
    result = flows("verify", manifest.id, workspace=tmp_path)
    assert result.returncode == 1
    assert f"DAMAGED  {manifest.id}" in result.stdout and manifest.outputs["store"]["path"] in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "error: 1 of 1 version(s) differ from their manifests"


def test_deleted_chunk_marks_the_version_missing_in_versions(tmp_path):
    manifest = publish_store(tmp_path)
    chunk_files(tmp_path, manifest)[-1].unlink()
    assert missing_outputs(Workspace(tmp_path), manifest)
    listing = flows("versions", "--json", workspace=tmp_path)
    rows = json.loads(listing.stdout)
    assert rows[0]["id"] == manifest.id and "files missing" in rows[0]["missing"][0]
    table = flows("versions", workspace=tmp_path)
    assert f"{manifest.id}" in table.stdout and "MISSING" in table.stdout
    shown = flows("show", manifest.id, workspace=tmp_path)
    assert "files     MISSING: " in shown.stdout


def test_pretrain_refuses_to_start_on_a_changed_store(tmp_path):
    from pipelines.train.flows import train_version

    manifest = publish_store(tmp_path)
    largest = chunk_files(tmp_path, manifest)[0]
    flip_byte(largest, largest.stat().st_size // 2)
    with pytest.raises(StoreIntegrityError, match=manifest.id):
        train_version.fn("pretrain", str(tmp_path), manifest.id, None, "uplift-upsample", "demo", "demo",
                         {"max_steps": 1}, "cpu", False)  # fmt: skip
    assert not (tmp_path / "cache" / "pretrain").exists() and len(Workspace(tmp_path).manifests()) == 1
