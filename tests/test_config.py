"""Typed configs from YAML presets: coercion, overrides, and errors that name the key and the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from datasets.config import ConfigError, from_mapping, load_config, to_jsonable


@dataclass(frozen=True)
class Inner:
    depth: int = 2


@dataclass(frozen=True)
class Example:
    fps: float = 50.0
    strides: tuple[int, ...] = (3, 3, 3)
    root: Path | None = None
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")


def test_yaml_values_become_typed_fields(tmp_path):
    preset = tmp_path / "small.yaml"
    preset.write_text("fps: 25\nstrides: [9, 3, 3]\nroot: /data/amass\ninner: {depth: 4}\n")
    config = load_config(Example, "unused", str(preset), overrides={"strides": [3, 9, 13], "root": None})
    assert config == Example(fps=25.0, strides=(3, 9, 13), root=Path("/data/amass"), inner=Inner(depth=4))
    assert isinstance(config.fps, float)
    assert to_jsonable(config) == {"fps": 25.0, "strides": [3, 9, 13], "root": "/data/amass", "inner": {"depth": 4}}


def test_unknown_keys_name_the_key_the_file_and_the_valid_keys(tmp_path):
    preset = tmp_path / "typo.yaml"
    preset.write_text("fsp: 25\n")
    with pytest.raises(ConfigError) as error:
        load_config(Example, "unused", str(preset))
    message = str(error.value)
    assert "fsp" in message and str(preset) in message and "'fps'" in message


def test_validation_errors_carry_the_rule():
    with pytest.raises(ConfigError, match="fps must be positive, got -1"):
        from_mapping(Example, {"fps": -1})


def test_missing_preset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="No preset 'nope'"):
        load_config(Example, "models", "nope")


@pytest.mark.parametrize("preset", ["default", "random-cameras"])
def test_amass_presets_load_into_the_typed_config(preset):
    from datasets.amass.config import AmassConfig
    from datasets.config import available_presets

    assert preset in available_presets("amass")
    config = load_config(AmassConfig, "amass", preset, {"amass_root": "/data/amass", "body_models": "/data/models"})
    assert config.fps == 50.0 and config.amass_root == Path("/data/amass")
    assert config.camera_mode == ("h36m" if preset == "default" else "random") and config.camera_count == 4
    assert config.validation_subsets == ("MPIHDM05", "SFU", "MPImosh")


@pytest.mark.parametrize(
    ("preset", "protocol", "flip_test", "max_views"),
    [("h36m", "h36m", True, None), ("mpi-inf-3dhp", "mpi_inf_3dhp", True, None), ("quick", "auto", False, 2)],
)
def test_evaluation_presets_named_in_the_help_load(preset, protocol, flip_test, max_views):
    """`python flows.py evaluate --preset NAME` reads presets/evaluation/NAME.yaml into EvaluationConfig."""
    from datasets.config import available_presets
    from lifting.evaluation import EvaluationConfig

    assert preset in available_presets("evaluation")
    config = load_config(EvaluationConfig, "evaluation", preset, {"split": "test"})
    assert (config.protocol, config.flip_test, config.max_views) == (protocol, flip_test, max_views)
