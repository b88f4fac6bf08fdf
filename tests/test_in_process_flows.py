"""Flows run in-process when nothing asks for Prefect: no API contacted, the call still recorded for --refresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.lineage.versioning import flow_parameters
from pipelines.orchestration import create_markdown_artifact, flow, flow_call, run_in_process, task

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
    inner = tiny_flow(value=value, offset=0)
    return {"inner": inner, "recorded": flow_parameters()}


def test_a_flow_started_by_an_in_process_flow_runs_in_process_and_records_its_own_call(monkeypatch):
    """``outer_flow(2)`` starts ``tiny_flow(2, offset=0)``: 2 * 2 + 0 = 4. Each records its own call (what
    ``--refresh`` reruns for a stage started by ``pretrain-finetune``), and no Prefect API is contacted."""
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE_API)
    outcome = run_in_process(outer_flow, {"value": 2})
    inner_call = {"flow_run": {"flow": "tiny-flow", "parameters": {"value": 2, "offset": 0}}}
    assert outcome["inner"] == {"result": 4, "recorded": inner_call}
    assert outcome["recorded"] == {"flow_run": {"flow": "outer-flow", "parameters": {"value": 2}}}


def test_outside_an_in_process_flow_a_task_is_the_prefect_task_of_its_declaration():
    from prefect import Task

    task_of_prefect = double.prefect()
    assert isinstance(task_of_prefect, Task) and double.prefect() is task_of_prefect  # made once
    assert (task_of_prefect.fn(4), task_of_prefect.retries, task_of_prefect.name) == (8, 2, "double")


def test_the_command_line_starts_without_numpy_torch_or_prefect():
    """Every command (``--help`` too) imports the command line first; NumPy alone costs ~0.1 s, torch ~1.4 s."""
    script = "import sys\nimport pipelines.cli\nprint(sorted({'numpy', 'torch', 'prefect'} & set(sys.modules)))\n"
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]"


def test_a_command_running_in_process_never_imports_prefect(tmp_path):
    """Importing Prefect costs ~1.4 s of every command; the definitions and the in-process run import none."""
    script = (
        "import sys\n"
        "from pipelines.orchestration import run_in_process\n"
        "import pipelines.serve\n"
        "import tests_tiny\n"
        "assert run_in_process(tests_tiny.tiny_flow, {'value': 5})['result'] == 13\n"
        "assert len(pipelines.serve.FLOWS) == 10\n"
        "print(sorted(module for module in sys.modules if module.split('.')[0] == 'prefect'))\n"
    )
    (tmp_path / "tests_tiny.py").write_text(
        "from pipelines.orchestration import flow, task\n"
        "@task(name='double')\ndef double(value):\n    return 2 * value\n"
        "@flow(name='tiny')\ndef tiny_flow(value, offset=3):\n    return {'result': double(value) + offset}\n"
    )  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY_ROOT), str(tmp_path)])}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]"


def test_prefect_loads_each_flow_from_its_entry_module_as_a_prefect_flow():
    """``prefect.yaml``'s entry points (``pipelines/prefect_entry.py:preprocess_amass``) go through Prefect's loader."""
    from prefect import Flow
    from prefect.flows import load_flow_from_entrypoint

    from pipelines.serve import FLOWS, entrypoint

    for served in FLOWS:
        script, attribute = entrypoint(served.name).split(":")
        loaded = load_flow_from_entrypoint(f"{REPOSITORY_ROOT / script}:{attribute}")
        assert isinstance(loaded, Flow) and loaded.name == served.name and loaded.fn is served.fn
    with pytest.raises(Exception, match="'preprocess_nothing' not found"):
        load_flow_from_entrypoint(f"{REPOSITORY_ROOT / 'pipelines' / 'prefect_entry.py'}:preprocess_nothing")


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
