"""Text a clone can follow: citations resolve inside the repository; no history, branch or machine path in it.

Code and docs say what is true now: the commit log keeps the history (which issue asked for what), and timings
live in ``docs/performance.md``. The checks scan every source, preset and document of the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SCANNED_FOLDERS = ("datasets", "lifting", "pipelines", "bench", "docs", "presets", "tests")
SCANNED_FILES = ("README.md", "flows.py", "pyproject.toml", "constraints.txt", "prefect.yaml")
SUFFIXES = {".py", ".md", ".yaml", ".toml", ".txt", ".json"}

HISTORY = re.compile(r"\bissues? #?\d+|\bissue #|\bbranch [`'\"][\w./-]+[`'\"]", re.IGNORECASE)
"""An issue number, or a branch named in quotes."""
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:tmp|work|home)/")
"""An absolute path of one machine."""
OUTSIDE_CITATION = re.compile(r"(?:\.\./)?(?:shared/)?\b(?:reference|seeds)/[\w.-]+\.(?:md|txt)\b")
"""A citation of a reference file that lived beside the repository, not in it."""
DOCS_CITATION = re.compile(r"\bdocs/[\w./-]+\.md\b")
"""A document cited by path: ours, or a released repository's listed in ``docs/references.md``."""
REFERENCES = REPOSITORY / "docs" / "references.md"


SPELLS_THE_PATTERNS = {Path(__file__).resolve(), REPOSITORY / "tests" / "test_preset_citations.py"}
"""Checker tests whose hand-written fixtures contain what the checks look for."""


def scanned_files() -> list[Path]:
    """Every text file the checks read, except the checker tests."""
    files = [REPOSITORY / name for name in SCANNED_FILES if (REPOSITORY / name).is_file()]
    for folder in SCANNED_FOLDERS:
        files += [path for path in (REPOSITORY / folder).rglob("*") if path.suffix in SUFFIXES and path.is_file()]
    return sorted(path for path in files if path not in SPELLS_THE_PATTERNS)


def problems(text: str) -> list[str]:
    """What in ``text`` a clone cannot follow or should not read: ``"kind: match"`` for each finding."""
    found = [f"history: {match}" for match in HISTORY.findall(text)]
    found += [f"machine path: {match}" for match in MACHINE_PATH.findall(text)]
    found += [f"outside citation: {match}" for match in OUTSIDE_CITATION.findall(text)]
    released = REFERENCES.read_text()
    found += [f"missing: {name}" for name in DOCS_CITATION.findall(text)
              if not (REPOSITORY / name).is_file() and f"`{name}`" not in released]  # fmt: skip
    return found


def test_the_checker_finds_each_kind_of_problem_and_passes_clean_text():
    """Hand-written lines: an issue number, a quoted branch name, a scratch path, a citation of a file that lived
    outside the repository and one of a missing doc; then text that cites ``docs/references.md``, AlphaPose's
    ``docs/output.md`` (a released file listed there) and talks of a residual branch and of ``s3://bucket/tmp/x``
    (not a machine path)."""
    bad = (
        "before issue 15 the call was flat; see issue #10\n"
        "measured on branch `speed` with /tmp/scratch-ref\n"
        "(reference/models.md; ../shared/reference/formats.md 2.2; seeds/mixste.txt) and docs/nowhere.md\n"
    )
    assert problems(bad) == [
        "history: issue 15",
        "history: issue #10",
        "history: branch `speed`",
        "machine path: /tmp/",
        "outside citation: reference/models.md",
        "outside citation: ../shared/reference/formats.md",
        "outside citation: seeds/mixste.txt",
        "missing: docs/nowhere.md",
    ]
    clean = "released code (docs/references.md, MixSTE); AlphaPose docs/output.md; a residual branch; s3://bucket/tmp/x"
    assert problems(clean) == []


def test_code_and_docs_cite_only_what_a_clone_has_and_carry_no_history_or_machine_paths():
    """No file of the repository has a finding of ``problems``."""
    findings = {}
    for path in scanned_files():
        found = problems(path.read_text(errors="replace"))
        if found:
            findings[str(path.relative_to(REPOSITORY))] = found
    assert findings == {}
