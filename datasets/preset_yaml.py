"""Parse a preset's YAML safely and boundedly: plain data only, of a size a preset can have.

Presets (``datasets.config``) are small mappings of field names to numbers, strings and short lists. A YAML
file can be much more: ``!!python/...`` tags ask for objects to be built (``yaml.safe_load`` refuses them,
but with a multi-line error), and aliases let a few hundred bytes name billions of values ("billion
laughs": nine lists of nine references to the previous one), which the loader shares cheaply but every
later walk over them (validation, an error message quoting the value) expands. A preset is refused, with
one line naming the file and the rule, when it

* is larger than ``MAX_PRESET_BYTES``,
* is not well-formed YAML of plain data (tags of Python objects included; the line is named),
* holds more than ``MAX_PRESET_VALUES`` values once its aliases are expanded, or an alias inside itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

MAX_PRESET_BYTES = 1 << 20
"""1 MiB: the largest preset here is about 2 kB."""
MAX_PRESET_VALUES = 100_000
"""Scalars, lists and mappings a preset may hold with every alias expanded (the largest here holds ~100)."""


class PresetRefusedError(ValueError):
    """A preset file that is not small, plain YAML data; the one-line message names the file and the rule."""


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int], where: str) -> int:
    """Values under ``node`` with aliases expanded (each shared node counted per reference, computed once)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise PresetRefusedError(f"{where}: an alias refers to a list or mapping that holds it; presets are trees")
    open_nodes.add(key)
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    else:
        children = []
    size = 1
    for child in children:
        size += _expanded_size(child, sizes, open_nodes, where)
        if size > MAX_PRESET_VALUES:
            raise PresetRefusedError(
                f"{where}: its YAML aliases expand to more than {MAX_PRESET_VALUES} values (a preset is a small "
                "mapping of field names to values; this looks like a 'billion laughs' file)"
            )
    open_nodes.discard(key)
    sizes[key] = size
    return size


def load_preset_yaml(path: str | os.PathLike) -> Any:
    """The plain data a preset file holds (None for an empty file).

    Raises:
        PresetRefusedError: Too large, not plain well-formed YAML, or too many values once aliases are
            expanded; one line naming ``path`` and the rule.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_PRESET_BYTES:
        raise PresetRefusedError(f"{path}: {size} bytes; a preset holds at most {MAX_PRESET_BYTES}")
    loader = yaml.SafeLoader(path.read_text())
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), str(path))
        return loader.construct_document(node)
    except RecursionError as error:
        raise PresetRefusedError(f"{path}: nested too deeply for a preset (lists inside lists...)") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = " ".join(str(getattr(error, "problem", None) or error).split())[:300]
        raise PresetRefusedError(
            f"{path}: {line}{problem}; a preset is plain YAML (mappings, lists, strings, numbers), and tags "
            "such as !!python are refused"
        ) from error
    finally:
        loader.dispose()
