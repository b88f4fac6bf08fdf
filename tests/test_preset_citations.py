"""Paper presets cite where each value comes from (STYLE.md: "YAML presets citing papers").

A *paper preset* is every model or training preset except ``demo`` (the demos say they are not paper
configurations). Each of its values must carry a citation: a section, table, equation, figure, the
supplement, the released code, or a reference file (``models.md``, ``opt.py``, ``seeds/...txt``), in the
comment on its line or in the comment lines directly above it. A ``paper:`` block (published parameter
counts) is cited by its ``source``, which must name a table.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from datasets.config import PRESETS_DIRECTORY

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
        "  frames: 243    # models.md\n"
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
