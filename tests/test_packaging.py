"""Packaging and the command line: the Hugging Face `datasets` guard, `--help` of every subcommand."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = (
    "preprocess-amass", "preprocess-h36m", "preprocess-3dhp", "preprocess-humaneva", "pretrain", "finetune",
    "pretrain-finetune", "evaluate", "versions", "show", "serve", "model-info", "export", "gc",
)  # fmt: skip


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=REPOSITORY_ROOT, **kwargs
    )


def fake_hugging_face_datasets(root: Path) -> Path:
    """A site directory holding a package `datasets` and its `datasets` distribution metadata."""
    (root / "datasets").mkdir(parents=True)
    (root / "datasets" / "__init__.py").write_text("def load_dataset(name): return name\n")
    info = root / "datasets-2.19.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: datasets\nVersion: 2.19.0\n")
    (info / "RECORD").write_text("datasets/__init__.py,,\n")
    return root


def test_importing_beside_hugging_face_datasets_fails_naming_the_conflict_and_the_fix(tmp_path):
    site = fake_hugging_face_datasets(tmp_path / "site")
    result = run_python(f"import sys; sys.path.append({str(site)!r}); import datasets")
    assert result.returncode != 0
    assert "Hugging Face" in result.stderr and str(site / "datasets") in result.stderr
    assert "pip uninstall datasets" in result.stderr and "virtual environment" in result.stderr


def test_hugging_face_datasets_first_on_the_path_is_refused_by_lifting_and_pipelines(tmp_path):
    site = fake_hugging_face_datasets(tmp_path / "site")
    for package in ("lifting", "pipelines"):
        result = run_python(f"import sys; sys.path.insert(0, {str(site)!r}); import {package}")
        assert result.returncode != 0, package
        assert "not mocaplift's `datasets`" in result.stderr and "pip uninstall datasets" in result.stderr


def test_help_lists_every_subcommand():
    result = subprocess.run(
        [sys.executable, "flows.py", "--help"], capture_output=True, text=True, cwd=REPOSITORY_ROOT, check=True
    )
    for command in SUBCOMMANDS:
        assert command in result.stdout, command


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = subprocess.run(
        [sys.executable, "flows.py", command, "--help"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
