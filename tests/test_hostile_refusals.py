"""Malicious presets and checkpoints are refused as ONE short ``error:`` line naming the file and the rule.

They were already refused without running anything, but as ~170-line tracebacks (a ``!!python`` preset, a
checkpoint asking for ``os.system``) or as a 4 MB line (a 235-byte "billion laughs" preset, whose expanded
value the validation error quoted). The payloads here create a marker file if they ever run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer

SHORT_LINE_CHARACTERS = 1000
"""A refusal of a hostile file fits in this (its path, the rule and a short quote)."""
LAUGHS = (
    'include: [&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], '
    "&c [*b,*b,*b,*b,*b,*b,*b,*b,*b], &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], "
    "&f [*e,*e,*e,*e,*e,*e,*e,*e,*e]]\n"
)
"""Six levels of nine references: 9**6 = 531441 strings once expanded, from 235 bytes."""


def _command_error(flow, capsys, **parameters) -> str:
    """The stderr of a command running ``flow`` (in this process, as the command line does without Prefect)."""
    from pipelines.cli.common import run_flow

    with pytest.raises(typer.Exit):
        run_flow(flow, **parameters)
    return capsys.readouterr().err


def _configure_amass(preset: str) -> str:
    """A flow that reads an AMASS preset, as ``preprocess-amass --preset FILE`` does first."""
    from datasets.amass.config import AmassConfig
    from datasets.config import load_config

    load_config(AmassConfig, "amass", preset)
    return "never"


def _the_one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-3000:]
    assert len(lines[0]) < SHORT_LINE_CHARACTERS
    return lines[0]


def test_python_tag_preset_is_one_line_naming_the_file_and_line_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "marker"
    preset = tmp_path / "evil.yaml"
    preset.write_text(f'fps: 50\ninclude: !!python/object/apply:os.system ["touch {marker}"]\n')
    line = _the_one_error_line(_command_error(_configure_amass, capsys, preset=str(preset)))
    assert line.startswith(f"error: {preset}: line 2: could not determine a constructor for the tag")
    assert "tags such as !!python are refused" in line
    assert not marker.exists()


@pytest.mark.timeout(60)
def test_billion_laughs_preset_is_one_short_line_naming_the_rule(tmp_path, capsys):
    preset = tmp_path / "laughs.yaml"
    preset.write_text(LAUGHS)
    line = _the_one_error_line(_command_error(_configure_amass, capsys, preset=str(preset)))
    assert line.startswith(f"error: {preset}: its YAML aliases expand to more than")


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_is_refused_as_one_line_by_the_command_and_runs_nothing(tmp_path, capsys):
    import torch

    from lifting.training.checkpoint import load_checkpoint

    marker, checkpoint = tmp_path / "marker", tmp_path / "best.pt"
    torch.save({"format": 1, "state": _RunsCode(marker)}, checkpoint)

    def evaluate_from(path: str) -> str:  # a flow that opens the checkpoint, as finetune --init and evaluate do
        load_checkpoint(Path(path))
        return "never"

    line = _the_one_error_line(_command_error(evaluate_from, capsys, path=str(checkpoint)))
    assert line.startswith(f"error: {checkpoint} refused: ") and "posix.system" in line
    assert "weights_only` set to `False`" not in line  # no advice to load it unsafely
    assert not marker.exists()


def test_an_arbitrarily_long_error_message_is_cut(capsys):
    def fails() -> str:
        raise ValueError("x" * 10_000_000)

    err = _command_error(fails, capsys)
    assert err.startswith("error: xxx") and len(err) < 10_000 and "more characters; --debug shows all" in err
