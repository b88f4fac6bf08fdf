"""Options declared once: a config field becomes a command-line option (help, default, type) that reaches the flow.

The commands are built in-process with Typer's test runner; the "flow" is a function recording what it got,
so these tests need neither Prefect nor a workspace.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import typer
from typer.testing import CliRunner

from datasets.config import ConfigError, field_help, from_mapping, load_config
from pipelines.cli.options import OptionGroup, with_options
from pipelines.convert.run_options import RunOptions

RUNNER = CliRunner()


@dataclass(frozen=True)
class ToyConversion:
    """A conversion's settings, as a config module declares them.

    Attributes:
        root: Archive folder.
        fps: Target frame rate, Hz.
        cameras: Camera names,
            one per view.
        mode: How frames are picked.
    """

    root: Path | None = None
    fps: float = 50.0
    cameras: tuple[str, ...] = ("a", "b")
    mode: Literal["all", "odd"] = "all"


@dataclass(frozen=True)
class ToyConversionWithSmoothing(ToyConversion):
    """The same settings plus one new field: the one edit that adds an option.

    Attributes:
        root: Archive folder.
        fps: Target frame rate, Hz.
        cameras: Camera names, one per view.
        mode: How frames are picked.
        smoothing: Width of the temporal smoothing window, frames.
    """

    smoothing: int = 3


def build_app(config_type: type, received: dict[str, Any], preset_group: str | None = None) -> typer.Typer:
    """An app with one command whose options come from ``config_type``; the command records what it got."""
    app = typer.Typer()

    @app.command()
    @with_options(options=OptionGroup(config_type, preset_group, "default" if preset_group else None),
                  run=OptionGroup(RunOptions))  # fmt: skip
    def convert(label: str = "x", *, options: dict[str, Any], run: dict[str, Any]) -> None:
        """Convert (a toy)."""
        received.update(label=label, options=options, run=run)

    return app


def test_field_help_reads_each_attribute_with_its_continuation_lines():
    assert field_help(ToyConversion) == {
        "root": "Archive folder.",
        "fps": "Target frame rate, Hz.",
        "cameras": "Camera names, one per view.",
        "mode": "How frames are picked.",
    }


def test_adding_a_field_adds_its_option_with_help_and_default_and_the_value_reaches_the_flow():
    """The only difference between the two apps is the new field ``smoothing: int = 3`` and its docstring line."""
    received: dict[str, Any] = {}
    before = RUNNER.invoke(build_app(ToyConversion, received), ["--help"], env={"COLUMNS": "200"})
    after = RUNNER.invoke(build_app(ToyConversionWithSmoothing, received), ["--help"], env={"COLUMNS": "200"})
    assert "--smoothing" not in before.output
    assert "--smoothing" in after.output
    assert "Width of the temporal smoothing window, frames. (default: 3)" in after.output
    result = RUNNER.invoke(build_app(ToyConversionWithSmoothing, received), ["--smoothing", "5", "--fps", "25"])
    assert result.exit_code == 0, result.output
    assert received["options"] == {"fps": 25.0, "smoothing": 5}  # only what was given: the preset keeps the rest
    config = from_mapping(ToyConversionWithSmoothing, received["options"])
    assert (config.smoothing, config.fps, config.cameras) == (5, 25.0, ("a", "b"))


def test_option_kinds_repeatable_choices_flags_and_run_options():
    received: dict[str, Any] = {}
    app = build_app(ToyConversion, received)
    result = RUNNER.invoke(app, ["--cameras", "c", "--cameras", "d", "--mode", "odd", "--root", "/data",
                                 "--strict", "--workers", "2", "--label", "y"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert received == {"label": "y", "options": {"cameras": ["c", "d"], "mode": "odd", "root": "/data"},
                        "run": {"workers": 2, "strict": True}}  # fmt: skip
    assert "One of: all, odd." in RUNNER.invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    RUNNER.invoke(app, [])
    assert received["options"] == {} and received["run"] == {}


def test_a_value_its_config_rejects_fails_before_the_flow_naming_the_option():
    received: dict[str, Any] = {}
    result = RUNNER.invoke(build_app(ToyConversion, received), ["--mode", "every"])
    assert result.exit_code == 2 and received == {}
    assert result.output.strip() == "error: --mode: Input should be 'all' or 'odd' (got 'every')"
    result = RUNNER.invoke(build_app(ToyConversion, received), ["--workers", "0"])
    assert result.output.strip() == "error: --workers must be at least 1, got 0; omit it for one worker per core."


def test_help_shows_the_default_presets_value_not_the_dataclass_default():
    """``presets/amass/default.yaml`` sets ``device: auto``; AmassConfig's own default is ``cpu``."""
    from datasets.amass.config import AmassConfig

    help_text = RUNNER.invoke(build_app(AmassConfig, {}, "amass"), ["--help"], env={"COLUMNS": "300"}).output
    assert "(preset default: auto)" in help_text and "(preset default: cpu)" not in help_text
    assert "Target frame rate, Hz. (preset default: 50.0)" in help_text


def test_a_name_declared_twice_is_refused():
    @dataclass(frozen=True)
    class Clash:
        """Attributes:
        strict: Also declared by RunOptions.
        """

        strict: bool = False

    with pytest.raises(TypeError, match=r"\['strict'\] declared twice"):
        build_app(Clash, {})


def test_options_override_the_preset_and_a_bad_value_names_the_option_the_preset_and_the_rule(tmp_path):
    preset = tmp_path / "toy.yaml"
    preset.write_text("fps: 30\nmode: odd\n")
    config = load_config(ToyConversion, "unused", str(preset), {"fps": "25", "mode": None})
    assert (config.fps, config.mode) == (25.0, "odd")  # given overrides the preset; None (unset) keeps it
    with pytest.raises(ConfigError, match=r"^mode='every' \(given as an option, over .*toy\.yaml\): mode: Input "):
        load_config(ToyConversion, "unused", str(preset), {"mode": "every"})
    with pytest.raises(ConfigError, match=r"workers must be at least 1, got 0; omit it"):
        from_mapping(RunOptions, {"workers": 0})


@pytest.mark.parametrize("command", ["preprocess-amass", "preprocess-h36m", "preprocess-3dhp", "preprocess-humaneva"])
def test_every_conversion_option_is_a_field_of_its_config(command):
    """No conversion command declares an option by hand: each is a config field, --workspace or --preset."""
    from pipelines.cli.common import app

    (registered,) = [item for item in app.registered_commands if item.name == command]
    parameters = set(inspect.signature(registered.callback).parameters)
    from datasets.amass.config import AmassConfig
    from datasets.benchmark_config import H36mConversionConfig, HumanEvaConversionConfig, Mpi3dhpConversionConfig

    config_type = {"preprocess-amass": AmassConfig, "preprocess-h36m": H36mConversionConfig,
                   "preprocess-3dhp": Mpi3dhpConversionConfig,
                   "preprocess-humaneva": HumanEvaConversionConfig}[command]  # fmt: skip
    fields = {field.name for field in dataclasses.fields(config_type)}
    run_fields = {field.name for field in dataclasses.fields(RunOptions)}
    assert fields <= parameters
    assert parameters - fields - run_fields <= {"workspace", "preset"}


def test_every_deployment_runs_with_no_parameters_and_takes_the_config_mapping():
    """`prefect deployment run X/X` passes no parameters: Prefect's schema of every flow must require none."""
    from prefect.utilities.callables import parameter_schema

    from pipelines.serve import FLOWS

    schemas = {flow.name: parameter_schema(flow.prefect()) for flow in FLOWS}
    assert len(schemas) == len(FLOWS) == 10
    for name, schema in schemas.items():
        assert schema.required == [], name
    for name in ("preprocess-amass", "preprocess-h36m", "preprocess-3dhp", "preprocess-humaneva"):
        assert {"options", "run", "workspace"} <= set(schemas[name].properties), name


def test_a_call_recorded_with_flat_parameters_replays_in_todays_form():
    """A version made before options were grouped records flat parameters; --refresh replays them regrouped."""
    from pipelines.convert.run_options import regrouped

    recorded = {"amass_root": "/data/AMASS", "body_models": "/data/models", "regressor": None, "preset": "default",
                "fps": 25.0, "include": ["CMU/*"], "workers": 2, "dask_address": None, "strict": False,
                "workspace": "/w"}  # fmt: skip
    assert regrouped(recorded) == {
        "preset": "default", "workspace": "/w", "run": {"workers": 2, "strict": False},
        "options": {"amass_root": "/data/AMASS", "body_models": "/data/models", "fps": 25.0, "include": ["CMU/*"]},
    }  # fmt: skip
    today = {"preset": "default", "options": {"fps": 25.0}, "run": None, "workspace": "/w"}
    assert regrouped(today) == today
