"""Names from data files never become markup or terminal commands: the report, the viewer page, printed lines."""

from __future__ import annotations

import dataclasses
import json
import re

import markdown
import pytest
from conftest import synthetic_views
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from datasets.escaping import markdown_text, script_json, terminal_text
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from lifting.evaluation import EvaluationConfig, evaluate_predictions
from lifting.visualization import build_scenes, write_viewer
from pipelines.cli import app
from pipelines.convert.conversion import announce_version, conversion_summary
from pipelines.lineage.versioning import StageRun

SKELETON = get_skeleton("h36m17")
SCRIPT_NAME = "<script>alert(1)</script>"
IMAGE_NAME = "S9<img src=x onerror=alert(2)>"
COMMENT_NAME = "<!--<script>"
TERMINAL_NAME = "S1\x1b[2J\x07"
"""ESC [ 2 J clears a terminal's screen; BEL rings its bell."""


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory) -> PoseStore:
    """Two test views whose action, subject and sequence names hold markup."""
    views = [
        dataclasses.replace(view, dataset="h36m", subject=subject, action=action, sequence=f"{action} {subject}",
                            split="test")
        for view, (subject, action) in zip(synthetic_views([12, 12]), [(IMAGE_NAME, SCRIPT_NAME),
                                                                       ("S11", COMMENT_NAME)], strict=True)
    ]  # fmt: skip
    directory = tmp_path_factory.mktemp("hostile") / "store"
    write_store(directory, views, "h36m17", SKELETON.joint_names)
    return PoseStore(directory)


def test_the_report_renders_names_as_text_in_python_markdown_and_markdown_it(hostile_store, tmp_path):
    """The per-action table and the viewer links hold the names; rendered, no element they spell survives."""
    truth = {view: hostile_store.read("joints_3d", view) for view in hostile_store.index["view_id"].to_pylist()}
    result = evaluate_predictions(hostile_store, truth, EvaluationConfig(split="test"), tmp_path,
                                  setup={"store": f"store of {SCRIPT_NAME}"})  # fmt: skip
    text = result.report_path.read_text()
    assert "alert(1)" in text and "alert(2)" in text  # the names are there, escaped
    rendered = {
        "python-markdown": markdown.markdown(text, extensions=["tables"]),
        "markdown-it": MarkdownIt("commonmark", {"html": True}).enable("table").render(text),
    }
    for name, page in rendered.items():
        assert not re.search(r"<\s*script|<[^>]*onerror", page, re.IGNORECASE), name  # the plots are <img> too
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name  # shown as the characters it holds


def test_markdown_text_keeps_a_name_in_its_table_cell():
    r"""``|`` would end the cell and a newline the row: both come out as text (the newline as ``\x0a``, its
    backslash escaped so that it renders as written)."""
    assert markdown_text("a|b\nc") == "a\\|b\\\\x0ac"
    assert MarkdownIt("commonmark").render(markdown_text("a|b\nc")) == "<p>a|b\\x0ac</p>\n"
    page = markdown.markdown(f"| name |\n|---|\n| {markdown_text('a|b*c*')} |", extensions=["tables"])
    assert "<td>a|b*c*</td>" in page


def _data_block(page: str) -> str:
    return re.search(r'<script id="scene-data" type="application/json">(.*?)</script>', page, re.S)[1]


def test_the_viewer_data_block_holds_no_comment_or_script_opening(hostile_store, tmp_path):
    """``<!--<script>`` inside the block puts HTML's parser in the double-escaped state (the page is blank);
    escaped as ``\\u003c``, the block ends at its own ``</script>`` and JSON.parse reads the same names."""
    path = write_viewer(tmp_path / "view.html", build_scenes(hostile_store, [1]), f"title {COMMENT_NAME}")
    page = path.read_text()
    block = _data_block(page)
    for opening in ("<!--", "<script", "</script"):
        assert opening not in block.lower()
    assert json.loads(block)["views"][0]["sequence"].endswith(f"/S11/{COMMENT_NAME} S11")
    assert "<title>title &lt;!--&lt;script&gt;</title>" in page


def test_script_json_escapes_what_html_reads_inside_a_script_block():
    assert script_json({"a": "</script><!--&"}) == '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026"}'
    assert json.loads(script_json({"a": "</script><!--&"})) == {"a": "</script><!--&"}


def test_terminal_text_shows_control_characters_and_keeps_lines():
    assert terminal_text(f"{TERMINAL_NAME}\n\tnext") == "S1\\x1b[2J\\x07\n\tnext"
    assert terminal_text("evil\u202etxt.exe") == "evil\\u202etxt.exe"  # right-to-left override


def _published(tmp_path, summary: str):
    run = StageRun(tmp_path, "names-test", config={"summary": summary})
    with run:
        path = run.directory / "data.txt"
        path.write_text(summary)
        return run.publish(counts={}, outputs={"data": run.file_output(path)}, summary=summary)


def test_the_converter_and_show_print_names_escaped(tmp_path, capsys):
    manifest = _published(tmp_path, f"| {TERMINAL_NAME} | 3 |")
    announce_version("names-test", manifest, worked=True)
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "S1\\x1b[2J\\x07" in printed
    shown = CliRunner().invoke(app, ["show", manifest.id, "--workspace", str(tmp_path)], catch_exceptions=False)
    assert shown.exit_code == 0 and "S1\\x1b[2J\\x07" in shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output


def test_the_conversion_summary_escapes_subset_names(tmp_path):
    r"""ESC and BEL become ``\x1b`` and ``\x07`` (backslashes escaped for Markdown), ``[`` ``\[``, ``<`` ``&lt;``."""
    views = [dataclasses.replace(view, subset=f"CMU{TERMINAL_NAME}<b>") for view in synthetic_views([3])]
    write_store(tmp_path / "store", views, "h36m17", SKELETON.joint_names)
    summary = conversion_summary("names-test", {"views": 1}, PoseStore(tmp_path / "store"), [])
    assert "| CMUS1\\\\x1b\\[2J\\\\x07&lt;b&gt; | train | 3 |" in summary
    assert all(character >= " " or character == "\n" for character in summary)
