"""Paper presets cite where each value comes from (STYLE.md: "YAML presets citing papers").

A *paper preset* is every model or training preset except ``demo`` (the demos say they are not paper
configurations). Each of its values must carry a citation: a section, table, equation, figure, the
supplement, the released code, or a file (``docs/references.md``, ``opt.py``), in the comment on its line or in
the comment lines directly above it. A ``paper:`` block (published parameter counts) is cited by its ``source``,
which must name a table. Every file a preset cites resolves: a ``.md`` or ``.txt`` path is a file of this
repository, a ``.py`` file is one of this repository or a released-code file listed in ``docs/references.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from datasets.config import PRESETS_DIRECTORY

REPOSITORY = Path(__file__).resolve().parents[1]
REFERENCES = REPOSITORY / "docs" / "references.md"
CITED_FILE = re.compile(r"[\w/.-]+\.(?:md|py|txt)\b")
CITATION = re.compile(r"\b(Sec\.|Section|Table|Eq\.|Fig\.|supplement|released)|[\w/-]+\.(md|py|txt)\b")
"""What counts as saying where a value comes from."""
TABLE = re.compile(r"\bTable \d+")


def paper_presets() -> list[Path]:
    """Model and training preset files that state a paper's configuration."""
    files = [*PRESETS_DIRECTORY.glob("models/*/*.yaml"), *PRESETS_DIRECTORY.glob("training/*.yaml")]
    return sorted(path for path in files if path.stem != "demo")


def _cited(lines: list[str], number: int) -> bool:
    """Whether line ``number`` (0-based) or the comment block right above it cites a source."""
    if CITATION.search(lines[number].partition("#")[2]):
        return True
    above = number - 1
    while above >= 0 and lines[above].lstrip().startswith("#"):
        if CITATION.search(lines[above]):
            return True
        above -= 1
    return False


def uncited_values(text: str) -> list[str]:
    """The ``line N: key`` of every value in the YAML ``text`` that cites nothing (the rules above)."""
    lines = text.splitlines()
    problems: list[str] = []

    def walk(mapping: yaml.MappingNode) -> None:
        for key, value in mapping.value:
            if key.value == "paper" and isinstance(value, yaml.MappingNode):
                source = next((v.value for k, v in value.value if k.value == "source"), "")
                if not TABLE.search(str(source)):
                    problems.append(f"line {key.start_mark.line + 1}: paper.source names no table ({source!r})")
            elif isinstance(value, yaml.MappingNode):
                walk(value)
            elif not _cited(lines, key.start_mark.line):
                problems.append(f"line {key.start_mark.line + 1}: {key.value}")

    root = yaml.compose(text)
    if isinstance(root, yaml.MappingNode):
        walk(root)
    return problems


def unresolved_files(text: str) -> list[str]:
    """Files cited in the comments of ``text`` that a clone of the repository does not have (rules above)."""
    released = REFERENCES.read_text()
    missing = []
    for line in text.splitlines():
        for name in CITED_FILE.findall(line.partition("#")[2]):
            in_repository = (REPOSITORY / name).is_file()
            listed = f"`{name}`" in released or f"/{name}`" in released
            if not in_repository and not (name.endswith(".py") and listed):
                missing.append(name)
    return missing


def test_the_file_checker_accepts_repository_and_released_files_only():
    """``docs/references.md`` exists here; ``run.py`` and ``common/opt.py`` are released files listed there;
    ``reference/models.md`` and ``seeds/mixste.txt`` lived outside the repository, ``helper.py`` nowhere."""
    text = (
        "a: 1   # docs/references.md, released run.py\n"
        "b: 2   # released common/opt.py\n"
        "c: 3   # reference/models.md; seeds/mixste.txt\n"
        "d: 4   # helper.py\n"
    )
    assert unresolved_files(text) == ["reference/models.md", "seeds/mixste.txt", "helper.py"]


@pytest.mark.parametrize("path", paper_presets(), ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_every_file_a_paper_preset_cites_resolves(path):
    """No preset cites a file a clone lacks (rules in the module docstring)."""
    assert unresolved_files(path.read_text()) == []


def test_the_checker_finds_an_uncited_value_and_accepts_each_kind_of_citation():
    """Hand-written preset: ``depth`` has no source, ``dim`` cites on its line, ``heads`` in the comment above,
    ``window.frames`` a reference file; the ``paper`` block's source names no table. Expected: exactly
    ``depth`` (line 3) and the paper block (line 8)."""
    text = (
        "# A paper model\n"
        "dim: 512         # Table 7: d_m = 512\n"
        "depth: 8         # the usual\n"
        "# released code: 8 heads\n"
        "heads: 8\n"
        "window:\n"
        "  frames: 243    # docs/references.md\n"
        "paper:\n"
        "  parameters_millions: 33.78\n"
        '  source: "Wang et al."\n'
    )
    assert uncited_values(text) == ["line 3: depth", "line 8: paper.source names no table ('Wang et al.')"]


@pytest.mark.parametrize("path", paper_presets(), ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_every_paper_preset_value_cites_its_table_section_or_file(path):
    """Every value of a paper preset says where it comes from (rules in the module docstring)."""
    assert paper_presets(), f"no presets found under {PRESETS_DIRECTORY}"
    assert uncited_values(path.read_text()) == []
