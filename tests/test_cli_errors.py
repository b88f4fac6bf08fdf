"""Bad command-line values fail before any work, within seconds, with one ``error:`` line naming value and fix."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer

from pipelines.cli.common import DEBUG_ENVIRONMENT_VARIABLE, run_flow
from pipelines.convert.workers import dask_client

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


def test_an_invalid_option_is_blamed_on_the_option_not_the_preset(tmp_path):
    from datasets.amass.config import AmassConfig
    from datasets.config import ConfigError, load_config

    overrides = {"amass_root": str(tmp_path), "body_models": str(tmp_path), "fps": -5.0}
    with pytest.raises(ConfigError, match=r"^fps=-5\.0 \(given as an option, over .*default\.yaml\): fps must be"):
        load_config(AmassConfig, "amass", "default", overrides)


def _failing_flow(**_):
    """Logs its failure the way Prefect's engine does (with the traceback), then raises."""
    try:
        raise ValueError("fps must be positive")
    except ValueError:
        logging.getLogger("prefect.flow_runs").error("Encountered exception during execution", exc_info=True)
        raise


@pytest.mark.parametrize("debug", [False, True])
def test_prefect_run_logs_keep_their_traceback_only_with_debug(debug, monkeypatch, capsys):
    import pipelines.train.flows  # noqa: F401 - sets up Prefect's logging (replacing handlers) before ours is added

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("prefect.flow_runs")
    monkeypatch.setattr(logger, "handlers", [handler])  # only ours: Prefect's sends to its API
    monkeypatch.setattr(logger, "propagate", False)
    if debug:
        monkeypatch.setenv(DEBUG_ENVIRONMENT_VARIABLE, "1")
    else:
        monkeypatch.delenv(DEBUG_ENVIRONMENT_VARIABLE, raising=False)
    with pytest.raises(typer.Exit):
        run_flow(_failing_flow)
    assert [record.getMessage() for record in records] == ["Encountered exception during execution"]
    assert (records[0].exc_info is not None) is debug
    error = capsys.readouterr().err
    assert error.strip().splitlines()[-1] == "error: fps must be positive"
    assert ("Traceback" in error) is debug
