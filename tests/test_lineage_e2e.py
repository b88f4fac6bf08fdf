"""Lineage on a copy of the checkout: edits and copies that cannot change results reuse versions.

One workspace, one copy of the repository, six runs of ``python flows.py`` in order (each step's expected
version counts follow from the rules in docs/versioning.md):

1. ``pretrain-finetune`` publishes 2 conversions, 1 pretrain, 2 finetunes, 2 evaluations (7 versions).
2. A comment in ``lifting/models/mixste.py`` (a model the demo does not train): nothing new.
3. An unused constant appended to ``datasets/amass/convert.py``: ``pretrain-finetune`` still uses the
   newest conversion, says its code differs (naming ``datasets.amass.convert``) and publishes nothing.
4. ``preprocess-amass`` publishes a new conversion (new converter code) with the same array checksums.
5. ``pretrain-finetune`` picks the new conversion; its content equals the old one, so no pretrain,
   finetune or evaluate is new (early cutoff).
6. Every demo input file touched, then ``pretrain-finetune --refresh`` (which reruns both conversions as
   they were called): inputs count by content, so nothing is new.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from datasets.workspace import Workspace

pytestmark = pytest.mark.slow

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
COPIED_IGNORING = shutil.ignore_patterns(".venv", ".git", "workspace", "__pycache__", "*.egg-info", ".pytest_cache")
SMOKE = ("--epochs", "1")
"""Training steps per run: enough to publish real checkpoints and evaluations, little CPU."""


def flows(repository: Path, workspace: Path, *arguments: str) -> str:
    """Run ``python flows.py ...`` from ``repository``; returns stdout+stderr, failing the test on an error.

    Prefect gets its own home and database beside the workspace (a shared one serialises parallel test runs),
    and a generous start-up time for its temporary server on a loaded machine.
    """
    environment = {
        **os.environ, "MOCAPLIFT_WORKSPACE": str(workspace), "PYTHONPATH": str(repository),
        "PREFECT_HOME": str(workspace.parent / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{workspace.parent / 'prefect.db'}",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }  # fmt: skip
    result = subprocess.run([sys.executable, "flows.py", *arguments], cwd=repository, env=environment,
                            capture_output=True, text=True, timeout=900)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def versions_per_stage(workspace: Path) -> Counter:
    return Counter(manifest.stage for manifest in Workspace(workspace).manifests())


@pytest.mark.timeout(2400)  # six runs of the main job's flows: minutes, many more on a loaded machine
def test_edits_touches_and_reconversions_that_change_nothing_reuse_every_trained_version(tmp_path):
    repository, workspace = tmp_path / "repository", tmp_path / "workspace"
    shutil.copytree(REPOSITORY_ROOT, repository, ignore=COPIED_IGNORING)
    flows(repository, workspace, "pretrain-finetune", *SMOKE)
    first = versions_per_stage(workspace)
    assert first == {"preprocess-amass": 1, "preprocess-h36m": 1, "pretrain": 1, "finetune": 2, "evaluate": 2,
                     "baseline": 1}  # fmt: skip

    with open(repository / "lifting" / "models" / "mixste.py", "a") as handle:
        handle.write("# a comment in a model the demo does not train\n")
    flows(repository, workspace, "pretrain-finetune", *SMOKE)
    assert versions_per_stage(workspace) == first

    with open(repository / "datasets" / "amass" / "convert.py", "a") as handle:
        handle.write("\nUNUSED_CONSTANT = 1\n")
    stale = flows(repository, workspace, "pretrain-finetune", *SMOKE)
    assert "differs from the current code (datasets.amass.convert)" in stale
    assert versions_per_stage(workspace) == first

    flows(repository, workspace, "preprocess-amass")
    old, new = Workspace(workspace).manifests("preprocess-amass")
    assert old.id != new.id and old.outputs["store"]["array_sha256"] == new.outputs["store"]["array_sha256"]
    current = flows(repository, workspace, "pretrain-finetune", *SMOKE)
    assert f"using {new.id}, the newest version (made by the current code)" in current
    assert versions_per_stage(workspace) == {**first, "preprocess-amass": 2}

    for path in (workspace / "demo").rglob("*"):
        if path.is_file():
            path.touch()
    refreshed = flows(repository, workspace, "pretrain-finetune", *SMOKE, "--refresh")
    assert "--refresh: rerunning the call that made" in refreshed
    assert versions_per_stage(workspace) == {**first, "preprocess-amass": 2}
