"""Typed configs from YAML presets: ``load_config(Config, group, preset, overrides)``, and back to JSON.

Configs are frozen dataclasses owned by the layer that uses them (a model's config by its model, a
reader's by its reader); this loader lives in the bottom layer so that every layer may use it. Presets
are YAML files under ``presets/<group>/<name>.yaml`` whose keys are the dataclass's fields; unknown keys
are errors naming the file, the key and the valid keys. The resolved config (preset + overrides) is what
a version's manifest records.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

PRESETS_DIRECTORY = Path(__file__).resolve().parents[1] / "presets"

ConfigT = TypeVar("ConfigT")


class ConfigError(ValueError):
    """A preset or override that does not fit its config type."""


def preset_path(group: str, name: str) -> Path:
    """``presets/<group>/<name>.yaml``, or ``name`` itself if it is a path to a YAML file."""
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate
    path = PRESETS_DIRECTORY / group / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"No preset {name!r} for {group}: {path} does not exist. "
            f"Available: {', '.join(available_presets(group)) or 'none'}."
        )
    return path


def available_presets(group: str) -> list[str]:
    """Names of the presets in ``presets/<group>/``."""
    return sorted(path.stem for path in (PRESETS_DIRECTORY / group).glob("*.yaml"))


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Turn YAML scalars/lists into the field's type (tuples, Paths, nested dataclasses)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(annotation) if option is not type(None)]
        if value is None:
            return None
        return _coerce(value, options[0], where) if len(options) == 1 else value
    if dataclasses.is_dataclass(annotation) and isinstance(value, Mapping):
        return from_mapping(annotation, value, where)
    if origin is tuple and isinstance(value, list | tuple):
        arguments = typing.get_args(annotation)
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(_coerce(item, arguments[0], where) for item in value)
        return tuple(_coerce(item, argument, where) for item, argument in zip(value, arguments, strict=True))
    if annotation is Path and isinstance(value, str):
        return Path(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_mapping(config_type: type[ConfigT], values: Mapping[str, Any], where: str = "config") -> ConfigT:
    """Build ``config_type`` from a mapping, rejecting unknown keys by name."""
    fields = {field.name: field for field in dataclasses.fields(config_type)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown} for {config_type.__name__}; valid keys: {sorted(fields)}."
        )
    hints = typing.get_type_hints(config_type)
    arguments = {name: _coerce(value, hints[name], f"{where}.{name}") for name, value in values.items()}
    try:
        return config_type(**arguments)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {error}") from error


def load_config(
    config_type: type[ConfigT],
    group: str,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ConfigT:
    """A config from a preset file (or the dataclass defaults when ``preset`` is None) plus overrides.

    An invalid value is blamed on where it came from: an override the error names (``fps=-5.0 (given as an
    option, over presets/amass/default.yaml): ...``), else the preset file.
    """
    values: dict[str, Any] = {}
    where = config_type.__name__
    if preset is not None:
        path = preset_path(group, preset)
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"{path}: a preset must be a YAML mapping of field names to values.")
        values.update(loaded)
        where = str(path)
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    values.update(given)
    try:
        return from_mapping(config_type, values, where)
    except ConfigError as error:
        cause = str(error.__cause__ or error).removeprefix(f"{where}: ")
        blamed = [key for key in given if re.search(rf"\b{re.escape(key)}\b", cause)]
        if not blamed:
            raise
        options = ", ".join(f"{key}={given[key]!r}" for key in blamed)
        raise ConfigError(f"{options} (given as an option, over {where}): {cause}") from error


def to_jsonable(value: Any) -> Any:
    """A config (or any value inside it) as JSON-ready data: dataclasses to dicts, tuples to lists, Paths to str."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
