"""Typed configs from YAML presets: ``load_config(Config, group, preset, overrides)``, and back to JSON.

Configs are frozen dataclasses owned by the layer that uses them (a model's config by its model, a
reader's by its reader); this loader lives in the bottom layer so that every layer may use it, and it is
the only one (model presets too: ``lifting.models.registry`` reads ``presets/models/<model>/`` through it).
Presets are YAML files under ``presets/<group>/<name>.yaml`` whose keys are the dataclass's fields; unknown
keys are errors naming the file, the key and the valid keys. Values are coerced and checked by pydantic
(``TypeAdapter(Config).validate_python``: ``"25"`` -> 25.0 for a float, lists -> tuples, strings ->
``Path``), then the dataclass's own ``__post_init__`` rules run. The resolved config (preset + overrides) is
what a version's manifest records.

A dataclass's docstring ``Attributes:`` section is the help text of its fields (``field_help``): the
command line shows it for the options it generates from the fields (``pipelines.cli.options``).

Whether a field shapes a stage's output is declared on the field: a field made with ``runtime_field`` says
how a run executes (workers, device, progress bars, compiling) or where its inputs are (their content counts
through the input fingerprint), and ``split_runtime`` leaves it out of what a version id hashes. Every other
field shapes the output and is hashed, so a field nobody marked errs on the safe side: changing it makes a
new version rather than silently reusing an old one.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import reprlib
import sys
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from datasets.preset_yaml import load_preset_yaml

PRESETS_DIRECTORY = Path(__file__).resolve().parents[1] / "presets"
RUNTIME = "runtime"
"""Field metadata key marking a field that does not shape the output (``runtime_field``)."""

ConfigT = TypeVar("ConfigT")


class ConfigError(ValueError):
    """A preset or override that does not fit its config type; the message names where it came from."""


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


def read_preset(group: str, name: str) -> tuple[dict[str, Any], Path]:
    """A preset file's mapping (not yet checked against a config type) and its path.

    Raises:
        ConfigError: No such preset (the message lists the available ones), or a file that is not a mapping.
        PresetRefusedError: Not small, plain YAML data (``datasets.preset_yaml``).
    """
    path = preset_path(group, name)
    loaded = load_preset_yaml(path) or {}
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{path}: a preset must hold a YAML mapping of field names to values, "
                          f"got {type(loaded).__name__}.")  # fmt: skip
    return dict(loaded), path


def check_keys(values: Mapping[str, Any], valid: typing.Iterable[str], where: str) -> None:
    """Reject keys outside ``valid``, naming the keys, where they came from and the valid keys."""
    valid = sorted(valid)
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {valid}.")


def _dataclass_of(annotation: Any) -> type | None:
    """The dataclass an annotation names (``Inner`` or ``Inner | None``), else None."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [_dataclass_of(option) for option in typing.get_args(annotation)]
        return next((item for item in found if item is not None), None)
    return annotation if dataclasses.is_dataclass(annotation) else None


def _check_nested_keys(config_type: type, values: Mapping[str, Any], where: str) -> None:
    """``check_keys`` for a dataclass and every nested dataclass given as a mapping (pydantic ignores extras)."""
    check_keys(values, (field.name for field in dataclasses.fields(config_type)), f"{where} ({config_type.__name__})")
    hints = typing.get_type_hints(config_type)
    for name, value in values.items():
        nested = _dataclass_of(hints[name])
        if nested is not None and isinstance(value, Mapping):
            _check_nested_keys(nested, value, f"{where}.{name}")


QUOTED_VALUE_CHARACTERS = 200
"""An invalid value is quoted in an error up to this many characters (a preset's value can be huge)."""


def _quoted(value: Any) -> str:
    """``repr(value)``, cut to ``QUOTED_VALUE_CHARACTERS`` with how much was left out."""
    quoting = reprlib.Repr()  # also bounds nesting and list lengths: never walks a huge value whole
    quoting.maxstring = quoting.maxother = QUOTED_VALUE_CHARACTERS
    text = quoting.repr(value)
    if len(text) <= QUOTED_VALUE_CHARACTERS:
        return text
    return f"{text[:QUOTED_VALUE_CHARACTERS]}... ({type(value).__name__}, cut)"


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``field: message (got value)``; a ``__post_init__`` rule keeps its own words."""
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        message = str(error["ctx"]["error"])
    else:
        message = f"{error['msg']} (got {_quoted(error['input'])})" if error["type"] != "missing" else error["msg"]
    location = ".".join(str(part) for part in error["loc"])
    return f"{location}: {message}" if location else message


def from_mapping(config_type: type[ConfigT], values: Mapping[str, Any], where: str = "config") -> ConfigT:
    """Build ``config_type`` from a mapping: unknown keys rejected by name, values coerced and validated.

    Raises:
        ConfigError: ``<where>: <field>: <what is wrong> (got <value>)``, or the ``__post_init__`` rule.
    """
    from pydantic import TypeAdapter, ValidationError

    _check_nested_keys(config_type, values, where)
    try:
        return TypeAdapter(config_type).validate_python(dict(values))
    except ValidationError as error:
        problems = "; ".join(_describe(item) for item in error.errors(include_url=False))
        raise ConfigError(f"{where}: {problems}") from error
    except (TypeError, ValueError) as error:  # raised by __post_init__ outside pydantic's wrapping
        raise ConfigError(f"{where}: {error}") from error


def load_config(
    config_type: type[ConfigT],
    group: str,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ConfigT:
    """A config from a preset file (or the dataclass defaults when ``preset`` is None) plus overrides.

    Overrides that are None are unset (the preset's value stays). An invalid value is blamed on where it
    came from: an override the error names (``fps=-5.0 (given as an option, over presets/amass/default.yaml):
    ...``), else the preset file.
    """
    values: dict[str, Any] = {}
    where = config_type.__name__
    if preset is not None:
        loaded, path = read_preset(group, preset)
        values.update(loaded)
        where = str(path)
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    values.update(given)
    try:
        return from_mapping(config_type, values, where)
    except ConfigError as error:
        cause = str(error).removeprefix(f"{where}: ")
        blamed = [key for key in given if re.search(rf"\b{re.escape(key)}\b", cause)]
        if not blamed:
            raise
        options = ", ".join(f"{key}={given[key]!r}" for key in blamed)
        raise ConfigError(f"{options} (given as an option, over {where}): {cause}") from error


def docstring(documented: Any) -> str:
    """The docstring of a class or function, cleaned (``inspect.cleandoc``); "" if it has none.

    Under ``python -OO`` Python drops docstrings, so they are read from the object's source file instead (its
    syntax tree: the text is the same), which keeps help generated from them (``field_help``, the command
    line's summaries) whole.

    >>> docstring(docstring).splitlines()[0]
    'The docstring of a class or function, cleaned (``inspect.cleandoc``); "" if it has none.'
    """
    if sys.flags.optimize < 2:
        return inspect.cleandoc(documented.__doc__ or "")
    try:
        source = inspect.getsource(inspect.unwrap(documented))
    except (OSError, TypeError):  # defined where no source file is (an interactive session)
        return ""
    definition = ast.parse(textwrap.dedent(source)).body[0]
    if not isinstance(definition, ast.ClassDef | ast.FunctionDef):
        return ""
    return ast.get_docstring(definition) or ""


def field_help(config_type: type) -> dict[str, str]:
    """Each field's help text: its entry in the class docstring's ``Attributes:`` section (Google style).

    A continuation line (indented deeper than the entry) joins the entry; RST double backquotes become plain.

    >>> from datasets.amass.config import AmassConfig
    >>> field_help(AmassConfig)["fps"]
    'Target frame rate, Hz.'
    """
    _, found, section = docstring(config_type).partition("Attributes:")
    entries: dict[str, str] = {}
    if not found:
        return entries
    indent, name = None, None
    for line in section.splitlines()[1:]:
        if not line.strip():
            if entries:
                break
            continue
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        if depth < indent:
            break
        match = re.match(r"(\w+)(?: \([^)]*\))?: (.*)", line.strip())
        if depth == indent and match:
            name = match.group(1)
            entries[name] = match.group(2)
        elif name is not None:
            entries[name] += " " + line.strip()
    return {key: value.replace("``", "") for key, value in entries.items()}


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


def runtime_field(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING) -> Any:
    """A config field that does not shape the stage's output: recorded in the manifest, not hashed into the id.

    For settings of how a run executes (worker counts, devices, progress bars, compiling) and for where
    inputs are (paths whose content the input fingerprint counts). Everything else is a plain field.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Example:
    ...     epochs: int = 10
    ...     workers: int = runtime_field(default=4)
    >>> runtime_fields(Example)
    ('workers',)
    """
    return dataclasses.field(default=default, default_factory=default_factory, metadata={RUNTIME: True})


def is_runtime(field: dataclasses.Field) -> bool:
    """Whether ``field`` was made with ``runtime_field`` (unmarked fields shape the output)."""
    return bool(field.metadata.get(RUNTIME, False))


def runtime_fields(config_type: type) -> tuple[str, ...]:
    """Dotted names of the runtime fields of ``config_type`` and of the dataclasses its fields hold, in order."""
    names: list[str] = []
    hints = typing.get_type_hints(config_type)
    for field in dataclasses.fields(config_type):
        nested = _dataclass_of(hints[field.name])
        if is_runtime(field):
            names.append(field.name)
        elif nested is not None:
            names += [f"{field.name}.{name}" for name in runtime_fields(nested)]
    return tuple(names)


def split_runtime(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A config as JSON, split into what shapes the output and what only shapes the run.

    Nested dataclasses are split alike; their runtime fields are named with dots (``window.cache``).

    Returns:
        ``(hashed, runtime)``: the output-shaping fields (nested as in ``to_jsonable``), and the runtime
        fields by dotted name.
    """
    hashed: dict[str, Any] = {}
    runtime: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if is_runtime(field):
            runtime[field.name] = to_jsonable(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            hashed[field.name], inner = split_runtime(value)
            runtime.update({f"{field.name}.{name}": item for name, item in inner.items()})
        else:
            hashed[field.name] = to_jsonable(value)
    return hashed, runtime
