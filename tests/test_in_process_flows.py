"""Flows run in-process when nothing asks for Prefect: no API contacted, the call still recorded for --refresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect import flow

from pipelines.orchestration import call_flow, create_markdown_artifact, flow_call, run_in_process, task
from pipelines.versioning import flow_parameters

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE_API = "http://127.0.0.1:9/api"
"""Port 9 (discard) on loopback: nothing answers, so any Prefect API call would fail."""


@task(name="double", retries=2)
def double(value: int) -> int:
    return 2 * value


@flow(name="tiny-flow")
def tiny_flow(value: int, offset: int = 3) -> dict:
    doubled = double(value)
    create_markdown_artifact(markdown="| a |", key="tiny", description="no API in-process")
    return {"result": doubled + offset, "recorded": flow_parameters()}


def test_in_process_flow_calls_its_tasks_plainly_and_records_its_call(monkeypatch):
    """With an unreachable API configured, a Prefect task or artifact call would raise; in-process none is made.

    ``tiny_flow(5)``: double(5) = 10, plus the default offset 3 = 13; the recorded call carries the default.
    """
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE_API)
    outcome = run_in_process(tiny_flow, {"value": 5})
    assert outcome == {"result": 13, "recorded": {"flow_run": {"flow": "tiny-flow",
                                                               "parameters": {"value": 5, "offset": 3}}}}  # fmt: skip
    assert flow_call() is None  # the in-process context ends with the call


@flow(name="outer-flow")
def outer_flow(value: int) -> dict:
    inner = call_flow(tiny_flow, value=value, offset=0)
    return {"inner": inner, "recorded": flow_parameters()}


def test_a_flow_started_by_an_in_process_flow_runs_in_process_and_records_its_own_call(monkeypatch):
    """``outer_flow(2)`` starts ``tiny_flow(2, offset=0)``: 2 * 2 + 0 = 4. Each records its own call (what
    ``--refresh`` reruns for a stage started by ``pretrain-finetune``), and no Prefect API is contacted."""
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE_API)
    outcome = run_in_process(outer_flow, {"value": 2})
    inner_call = {"flow_run": {"flow": "tiny-flow", "parameters": {"value": 2, "offset": 0}}}
    assert outcome["inner"] == {"result": 4, "recorded": inner_call}
    assert outcome["recorded"] == {"flow_run": {"flow": "outer-flow", "parameters": {"value": 2}}}


def test_a_task_outside_an_in_process_flow_is_still_a_prefect_task():
    assert double.fn(4) == 8 and double.retries == 2 and double.name == "double"


@pytest.mark.slow
def test_command_without_prefect_settings_runs_in_process_and_starts_no_server(tmp_path):
    """No ``PREFECT_API_URL``, no ``--prefect``: the command says it runs in-process and Prefect's temporary
    server never starts (it would create its SQLite database under ``PREFECT_HOME``)."""
    from bench.amass_archive import build_bench_archive

    paths = build_bench_archive(tmp_path / "archive", 1)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    environment.update(PREFECT_HOME=str(tmp_path / "prefect"), MOCAPLIFT_WORKSPACE=str(tmp_path / "workspace"))
    environment.pop("MOCAPLIFT_PREFECT", None)
    run = subprocess.run(
        [sys.executable, "flows.py", "preprocess-amass", "--amass-root", str(paths.amass_root), "--body-models",
         str(paths.body_models), "--regressor", str(paths.regressor), "--regressor-order", paths.regressor_order,
         "--workers", "1"],
        cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "running preprocess-amass in this process without Prefect" in run.stdout
    assert "converting in this process (one worker; no Dask)" in run.stdout
    assert "version preprocess-amass-" in run.stdout
    assert not list((tmp_path / "prefect").glob("*.db"))
