"""Manifests that lie or break: edited lineage is named by field, broken files are listed, outside paths refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datasets.manifest import ManifestError
from datasets.workspace import Workspace
from pipelines.cli import app
from pipelines.lineage.audit import lineage_problems
from pipelines.lineage.versioning import StageRun


def publish_text(workspace: Path, stage: str, text: str, parents: tuple[str, ...] = ()):
    """A version of ``stage`` whose one output, ``data``, is a file holding ``text``."""
    run = StageRun(workspace, stage, config={"text": text}, parents=parents)
    with run:
        path = run.directory / "data.txt"
        path.write_text(text)
        return run.publish(counts={"files": 1}, outputs={"data": run.file_output(path)})


@pytest.fixture
def lineage(tmp_path: Path) -> dict:
    """Two sources and a child made from the first; returns the workspace and the three manifests."""
    first = publish_text(tmp_path, "source-test", "first")
    second = publish_text(tmp_path, "source-test", "second")
    child = publish_text(tmp_path, "child-test", "child", parents=(first.id,))
    return {"root": tmp_path, "first": first, "second": second, "child": child}


def registry_file(root: Path, version: str) -> Path:
    return root / "registry" / f"{version}.json"


def edit_manifest(root: Path, version: str, change) -> None:
    """Rewrite a published manifest with ``change(data)`` applied (what a hand edit does)."""
    path = registry_file(root, version)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def cli(root: Path, *arguments: str):
    return CliRunner().invoke(app, [*arguments, "--workspace", str(root)], catch_exceptions=False)


def test_an_untouched_lineage_verifies(lineage):
    workspace = Workspace(lineage["root"])
    assert [lineage_problems(workspace, manifest) for manifest in workspace.manifests()] == [[], [], []]
    result = cli(lineage["root"], "verify")
    assert result.exit_code == 0, result.output


EDITS = {
    "parents": lambda data, other: data.update(parents=[other.id]),  # names another existing version
    "parent_content": lambda data, other: data["parent_content"][0].update(data="0" * 64),
    "id": lambda data, other: data.update(id=data["id"][:-1] + ("0" if data["id"][-1] != "0" else "1")),
}


@pytest.mark.parametrize("field", sorted(EDITS))
def test_verify_names_the_edited_lineage_field(lineage, field):
    """Each edit breaks exactly what the id derivation ties together: parent_content is what the id hashes, so
    editing it breaks the id and disagrees with the parent; editing parents leaves the id derivable but the
    named parent's checksums differ; editing the id breaks the derivation and the file name."""
    root, child = lineage["root"], lineage["child"]
    edit_manifest(root, child.id, lambda data: EDITS[field](data, lineage["second"]))
    workspace = Workspace(root)
    edited = workspace.get(child.id)
    problems = lineage_problems(workspace, edited)
    assert problems and all(f"field '{field}'" in problem for problem in problems), problems
    result = cli(root, "verify")
    assert result.exit_code == 1 and f"field '{field}'" in result.output


def test_verify_finds_a_parent_that_does_not_exist(lineage):
    root, child = lineage["root"], lineage["child"]
    edit_manifest(root, child.id, lambda data: data.update(parents=["source-test-000000000000"]))
    problems = lineage_problems(Workspace(root), Workspace(root).get(child.id))
    assert problems == [
        f"version {child.id}: field 'parents' names source-test-000000000000, which is not in the workspace"
    ]


BROKEN = {
    "empty": (b"", "the file is empty"),
    "truncated": (None, "not valid JSON"),
    "list": (b"[1, 2]", "a JSON list, not an object"),
    "not utf-8": (b"\xff\xfe{}", "not valid JSON"),
    "fields missing": (b'{"id": "x"}', "fields missing: code, config"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_one_unreadable_manifest_is_listed_and_every_other_version_still_handled(lineage, kind):
    root, second = lineage["root"], lineage["second"]
    broken = registry_file(root, lineage["first"].id)
    content, reason = BROKEN[kind]
    broken.write_bytes(broken.read_bytes()[: len(broken.read_bytes()) // 2] if content is None else content)
    attempt = next((root / "versions" / lineage["first"].id).iterdir())

    listing = cli(root, "versions")
    assert listing.exit_code == 0, listing.output
    assert second.id in listing.output and "UNREADABLE" in listing.output
    assert str(broken) in listing.output and reason in listing.output

    verified = cli(root, "verify")
    assert verified.exit_code == 1
    assert f"ok       {second.id}" in verified.output and f"UNREADABLE {lineage['first'].id}" in verified.output
    assert reason in verified.output
    assert "field 'parents'" in verified.output  # the child's parent can no longer be read

    shown = cli(root, "show", second.id)
    assert shown.exit_code == 0 and f"version   {second.id}" in shown.output
    assert f"unreadable: manifest {broken} is unreadable: {reason}" in shown.output
    refused = cli(root, "show", lineage["first"].id)
    assert refused.exit_code == 1 and f"error: manifest {broken} is unreadable: {reason}" in refused.output

    collected = cli(root, "gc", "--older-than-hours", "0")
    assert collected.exit_code == 0 and reason in collected.output
    assert attempt.is_dir()  # which attempt the broken manifest names is unknown: its files are kept


def test_an_output_path_outside_the_version_is_refused_never_read(lineage, tmp_path_factory):
    """A copy of the real output outside the workspace has the recorded SHA-256: reading it would say ok."""
    root, first = lineage["root"], lineage["first"]
    outside = tmp_path_factory.mktemp("outside") / "data.txt"
    shutil.copy(root / first.outputs["data"]["path"], outside)
    for path in ("/etc/passwd", str(outside), f"versions/{first.id}/../../../{outside}"):
        edit_manifest(root, first.id, lambda data, path=path: data["outputs"]["data"].update(path=path))
        manifest = Workspace(root).get(first.id)
        with pytest.raises(ManifestError, match="outside the version's directory"):
            Workspace(root).output_path(manifest, "data")
        verified = cli(root, "verify", first.id)
        assert verified.exit_code == 1 and "outside the version's directory" in verified.output, verified.output
        shown = cli(root, "show", first.id)
        assert shown.exit_code == 0 and "outside the version's directory" in shown.output


def test_an_output_that_is_a_link_leading_out_of_the_version_is_refused(lineage):
    root, first = lineage["root"], lineage["first"]
    recorded = root / first.outputs["data"]["path"]
    recorded.unlink()
    recorded.symlink_to("/etc/passwd")
    with pytest.raises(ManifestError, match="outside the version's directory"):
        Workspace(root).output_path(first, "data")
    verified = cli(root, "verify", first.id)
    assert verified.exit_code == 1 and "outside the version's directory" in verified.output
