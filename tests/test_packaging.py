"""Packaging and the command line: the Hugging Face `datasets` guard, `--help` of every subcommand."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = (
    "preprocess-amass", "preprocess-h36m", "preprocess-3dhp", "preprocess-humaneva", "pretrain", "finetune",
    "pretrain-finetune", "evaluate", "import-checkpoint", "lift", "versions", "verify", "show", "serve", "model-info",
    "export", "gc", "view",
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


def registered_commands() -> dict[str, str]:
    """Name -> first help line of every command registered on the Typer app, in registration order."""
    import typer.main

    from pipelines.cli import app

    commands = typer.main.get_command(app).commands
    return {name: (command.help or "").strip().splitlines()[0] for name, command in commands.items()}


def help_rows(text: str) -> list[str]:
    """Command names in the order of the rows of ``--help``'s Commands panel (wrapped lines skipped)."""
    panel = text[text.index("Commands") :]
    return re.findall(r"^\W (\S+) ", panel, flags=re.MULTILINE)


def test_help_lists_every_subcommand():
    """The registered commands are exactly SUBCOMMANDS, and ``--help`` has one row for each of them, in order.

    Matching whole row names (not substrings of the text) matters: ``pretrain``, ``show`` and ``versions``
    also occur inside other rows, so a hidden or renamed ``pretrain`` would still be "in" the help text.
    """
    registered = registered_commands()
    assert sorted(registered) == sorted(SUBCOMMANDS)
    result = subprocess.run(
        [sys.executable, "flows.py", "--help"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT, check=True, env={**os.environ, "COLUMNS": "120"},
    )  # fmt: skip
    assert help_rows(result.stdout) == list(registered)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    """``flows.py COMMAND --help`` exits 0 and renders that command's own usage line and summary."""
    result = subprocess.run(
        [sys.executable, "flows.py", command, "--help"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Usage: flows.py {command} [OPTIONS]" in result.stdout
    assert registered_commands()[command] in " ".join(result.stdout.split())


def test_prefect_yaml_declares_the_same_deployments_as_serve():
    """`prefect deploy --all` and `python flows.py serve` must offer the same flows at the same entrypoints."""
    import yaml

    from pipelines.serve import FLOWS, entrypoint

    declared = yaml.safe_load((REPOSITORY_ROOT / "prefect.yaml").read_text())["deployments"]
    entrypoints = {item["name"]: item["entrypoint"] for item in declared}
    assert entrypoints == {flow.name: entrypoint(flow.name) for flow in FLOWS}
    # Entry points are relative to the repository root, the project's working directory.
    assert entrypoints["preprocess-amass"] == "pipelines/prefect_entry.py:preprocess_amass"


def flow_run_by(command: object) -> tuple[object, set[str]]:
    """The flow a command's body hands to ``run_flow``, found by reading its source, and the keywords it passes.

    The body must import the flow by name (``from pipelines.x import f``) and call ``run_flow(f, ...)``: what a
    reader (or "go to definition") follows. Returns the object that import names and the keywords given.
    """
    import ast
    import importlib
    import inspect

    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(command))))
    imported = {alias.asname or alias.name: (node.module, alias.name) for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) for alias in node.names}  # fmt: skip
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    [call] = [node for node in calls if getattr(node.func, "id", "") == "run_flow"]
    module, name = imported[call.args[0].id]
    return getattr(importlib.import_module(module), name), {keyword.arg for keyword in call.keywords}


def test_every_flow_command_runs_the_served_flow_of_its_name_with_parameters_the_flow_takes():
    """Each flow command calls, by imported name, the very object `serve` and prefect.yaml serve, named like it.

    Every keyword the command passes is a parameter of that flow's function (``announce_version`` is
    ``run_flow``'s own), so its options can be followed into the flow body.
    """
    import inspect

    import typer

    from pipelines.cli import app
    from pipelines.serve import FLOWS

    commands = typer.main.get_command(app).commands
    flow_commands = {}
    for name, command in commands.items():
        if "run_flow" in inspect.getsource(inspect.unwrap(command.callback)):
            flow_commands[name] = flow_run_by(command.callback)
    assert sorted(flow_commands) == sorted(flow.name for flow in FLOWS)
    for name, (flow, keywords) in flow_commands.items():
        assert any(flow is served for served in FLOWS) and flow.name == name
        assert keywords - {"announce_version"} <= set(inspect.signature(flow.fn).parameters), name


def test_help_keeps_the_docstrings_under_python_OO():
    """``python -OO`` drops docstrings; the summary and each option's help (a field's ``Attributes:`` entry,
    here ``AmassConfig.fps``) are read from the source instead."""
    result = subprocess.run(
        [sys.executable, "-OO", "flows.py", "preprocess-amass", "--help"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())
    assert "AMASS archive -> versioned pose store of Human3.6M joints seen by virtual cameras." in shown
    assert "Target frame rate, Hz. (preset default: 50.0)" in shown


@pytest.mark.parametrize(
    ("model", "parameters"),
    # Parameter counts of the authors' released models (docs/references.md: instantiated on CPU).
    [("mixste", "33,783,811"), ("uplift-upsample", "10,404,902"), ("strided", "4,346,214")],
)
def test_model_info_shows_the_paper_configuration_by_default(model, parameters):
    result = subprocess.run(
        [sys.executable, "flows.py", "model-info", model], capture_output=True, text=True, cwd=REPOSITORY_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert parameters in result.stdout


def fenced_commands(markdown: str, heading: str) -> list[str]:
    """The lines of the first ```bash block after ``heading`` in a Markdown text."""
    section = markdown[markdown.index(heading) :]
    block = section[section.index("```bash") + len("```bash") :]
    return [line.strip() for line in block[: block.index("```")].strip().splitlines()]


def test_ci_installs_and_tests_exactly_as_the_readme_says():
    """.ci/run must run the README's install and test commands as written (cold cache aside)."""
    readme = (REPOSITORY_ROOT / "README.md").read_text()
    ci_lines = [line.strip() for line in (REPOSITORY_ROOT / ".ci" / "run").read_text().splitlines()]
    (install,) = fenced_commands(readme, "## Set up")
    (test,) = fenced_commands(readme, "## Run the tests")
    assert install.startswith("pip install -c constraints.txt ")
    assert any(line.endswith(f"python -m {install}") for line in ci_lines), install
    assert test in ci_lines


def test_constraints_pin_every_declared_dependency_but_torch():
    """A dependency added to pyproject.toml without regenerating constraints.txt would be resolved freely."""
    import re
    import tomllib

    project = tomllib.loads((REPOSITORY_ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [item for group in project["optional-dependencies"].values() for item in group]

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    names = {canonical(re.match(r"[A-Za-z0-9_.-]+", item).group()) for item in declared}
    pins = {
        canonical(line.split("==")[0])
        for line in (REPOSITORY_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert names - {"torch"} <= pins, sorted(names - {"torch"} - pins)
    assert "torch" not in pins  # users bring their own (CUDA) build
