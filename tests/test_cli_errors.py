"""Bad command-line values fail before any work, within seconds, with one ``error:`` line naming value and fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipelines.batch import dask_client

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
COMMAND_TIMEOUT_S = 120
"""Generous for a loaded 2-core machine; the commands take about 0.5 s (workers) and 4 s (regressor) of CPU."""


def flows(*arguments: str, workspace: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "flows.py", *arguments, "--workspace", str(workspace)],
        cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
    )  # fmt: skip


@pytest.mark.parametrize("workers", ["-1", "0"])
def test_workers_below_one_is_one_error_line(tmp_path, workers):
    result = flows("preprocess-amass", "--workers", workers, workspace=tmp_path / "workspace")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --workers must be at least 1, got {workers}; omit it for one worker per core."
    ]
    assert not (tmp_path / "workspace").exists()  # nothing started: not even the demo data


def test_npz_regressor_is_one_error_line_naming_the_file_and_the_fix(tmp_path):
    np.savez(tmp_path / "J_regressor_h36m.npz", J_regressor=np.ones((17, 10)))
    result = flows(
        "preprocess-amass", "--regressor", str(tmp_path / "J_regressor_h36m.npz"), "--amass-root", str(tmp_path),
        "--body-models", str(tmp_path), workspace=tmp_path / "workspace",
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: --regressor: regressor {tmp_path / 'J_regressor_h36m.npz'} is an .npz archive")
    assert "np.save" in line


def test_dask_client_refuses_zero_workers_instead_of_one_per_core():
    with pytest.raises(ValueError, match="workers must be at least 1, got 0"):
        with dask_client(workers=0, quiet=True):
            pass
