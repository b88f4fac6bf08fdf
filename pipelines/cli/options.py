"""Command-line options generated from typed config dataclasses: each option is declared once, as a field.

A field ``fps: float = H36M_FPS``, documented ``fps: Target frame rate, Hz.`` in its class's ``Attributes:``
section, becomes ``--fps FLOAT`` with that help and ``(preset default: 50.0)``: the value in the group's default
preset, here the preset named ``default`` (``(default: ...)``, the field's default, for a group without
presets). Every generated option defaults to unset: the command receives only the values given on the command
line, as a mapping the flow lays over the preset (``datasets.config.load_config``)::

    @flow_command(PREPROCESS_AMASS)
    @with_options(options=OptionGroup(AmassConfig, "amass", DEFAULT_PRESET), run=OptionGroup(RunOptions))
    def command(preset: str = "default", *, options: dict, run: dict) -> None: ...

Field types map to option types: ``int``/``float``/``str``/``Path``/``bool`` (``--x/--no-x``) stay as they are,
``tuple[T, ...]`` is a repeatable ``--x T``, ``tuple[T, T]`` takes two values, ``Mapping[str, T]`` is a
repeatable ``--x NAME=VALUE`` and ``Literal[...]`` lists its choices. A field's ``metadata={"envvar": NAME}``
also reads the environment variable.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from datasets.config import ConfigError, field_help, from_mapping, read_preset, to_jsonable
from pipelines.cli.common import fail

WHERE = "command line"


@dataclasses.dataclass(frozen=True)
class OptionGroup:
    """Options generated from the fields of one config dataclass.

    Attributes:
        config_type: The dataclass whose fields become options.
        preset_group: ``presets/<group>/`` holding the command's presets; None if it has none.
        default_preset: The preset used when ``--preset`` is not given (its values are the shown defaults).
        exclude: Fields that get no option (set by the flow itself).
    """

    config_type: type
    preset_group: str | None = None
    default_preset: str | None = None
    exclude: tuple[str, ...] = ()

    def shown_defaults(self) -> dict[str, Any]:
        """Each field's value when its option is not given: the default preset's, else the field's default."""
        values = {field.name: field.default for field in dataclasses.fields(self.config_type)}
        if self.preset_group is not None and self.default_preset is not None:
            values.update(read_preset(self.preset_group, self.default_preset)[0])
        return values


def _optional_parts(annotation: Any) -> Any:
    """``T`` of ``T | None`` (other annotations unchanged)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(annotation) if option is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _option_type(annotation: Any) -> tuple[Any, str]:
    """The option's type for a field's annotation, and a note for its help (choices or the value syntax)."""
    annotation = _optional_parts(annotation)
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return str, f"One of: {', '.join(str(choice) for choice in arguments)}."
    if origin is tuple and len(arguments) == 2 and arguments[1] is Ellipsis:
        return list[_option_type(arguments[0])[0]], "Repeatable."
    if origin is tuple:
        return tuple[tuple(_option_type(argument)[0] for argument in arguments)], ""
    if origin in (dict, Mapping) or annotation is Mapping:
        return list[str], "As NAME=VALUE, repeatable."
    if annotation in (int, float, str, bool, Path):
        return annotation, ""
    raise TypeError(f"no command-line option type for {annotation!r}; give the field a simpler type or exclude it")


def _shown(value: Any) -> str:
    """A default as help shows it."""
    value = to_jsonable(value)
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "none"
    return "none" if value is None else str(value)


def option_parameters(group: OptionGroup) -> list[inspect.Parameter]:
    """One keyword parameter per field, annotated with its ``typer.Option`` (default: unset)."""
    help_texts = field_help(group.config_type)
    hints = typing.get_type_hints(group.config_type)
    defaults = group.shown_defaults()
    label = f"preset {group.default_preset}" if group.preset_group else "default"
    parameters = []
    for field in dataclasses.fields(group.config_type):
        if field.name in group.exclude:
            continue
        option_type, note = _option_type(hints[field.name])
        text = " ".join(part for part in (help_texts.get(field.name, ""), note) if part)
        if defaults[field.name] not in (dataclasses.MISSING, None):
            text += f" ({label}: {_shown(defaults[field.name])})"
        flag = "--" + field.name.replace("_", "-")
        flags = (f"{flag}/--no-{flag[2:]}",) if option_type is bool else (flag,)
        option = typer.Option(*flags, help=text,
                              envvar=field.metadata.get("envvar"), show_default=False)  # fmt: skip
        annotation = Annotated[option_type | None, option]
        parameters.append(inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation=annotation))  # fmt: skip
    return parameters


def _name_value_pairs(values: list[str], option: str, value_type: Any) -> dict[str, str]:
    """Parse repeated ``NAME=VALUE`` options; a ``Path`` value must name an existing file."""
    pairs = {}
    for value in values:
        name, separator, item = value.partition("=")
        if not separator or not name or not item:
            fail(f"{option} expects NAME=VALUE, got {value!r}.")
        if value_type is Path and not Path(item).is_file():
            fail(f"{option} {name}: {item} does not exist.")
        pairs[name] = item
    return pairs


def given_values(group: OptionGroup, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``group`` given on the command line, as JSON-ready values keyed by field name."""
    hints = typing.get_type_hints(group.config_type)
    given = {}
    for field in dataclasses.fields(group.config_type):
        value = arguments.get(field.name)
        if field.name in group.exclude or value is None:
            continue
        annotation = _optional_parts(hints[field.name])
        if typing.get_origin(annotation) in (dict, Mapping):
            flag = "--" + field.name.replace("_", "-")
            value = _name_value_pairs(value, flag, typing.get_args(annotation)[1])
        given[field.name] = to_jsonable(value)
    return given


def check_given(group: OptionGroup, values: Mapping[str, Any]) -> None:
    """Fail (exit 2, before any work) on given values the config rejects, naming the option.

    Only groups without presets whose fields all have defaults are checked here (the others are complete only
    in the flow, with the preset and the demo's paths): their values are checked on their own.
    """
    fields = dataclasses.fields(group.config_type)
    if group.preset_group is not None or any(_required(field) for field in fields):
        return
    try:
        from_mapping(group.config_type, values, WHERE)
    except ConfigError as error:
        message = str(error).removeprefix(f"{WHERE}: ")
        fail(re.sub(r"^(\w+)", lambda match: "--" + match.group(1).replace("_", "-"), message))


def _required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def with_options(**groups: OptionGroup) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the command gains one option per field of each group; it receives ``<name>=dict`` per group.

    Apply it below ``@flow_command`` (or ``@command``). The command's own parameters keep their options; a
    group's name is the keyword (without a default) through which the command receives that group's given values.
    """

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [parameter for name, parameter in inspect.signature(command, eval_str=True).parameters.items()
               if name not in groups]  # fmt: skip
        generated = {name: option_parameters(group) for name, group in groups.items()}
        names = [parameter.name for parameter in own] + [p.name for items in generated.values() for p in items]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise TypeError(f"{command.__name__}: option(s) {duplicated} declared twice")

        @functools.wraps(command)
        def wrapper(**arguments: Any) -> Any:
            values = {name: given_values(group, arguments) for name, group in groups.items()}
            for name, group in groups.items():
                check_given(group, values[name])
            mine = {parameter.name: arguments[parameter.name] for parameter in own}
            return command(**mine, **values)

        parameters = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in own]
        parameters += [parameter for items in generated.values() for parameter in items]
        wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        return wrapper

    return decorate
