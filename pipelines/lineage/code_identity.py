"""A stage's code identity: a fingerprint of the project code the stage runs, blind to comments and layout.

A stage names its *entry modules* (``STAGE_CODE``); its code is the closure of those modules over the
static import graph (every ``import`` and ``from ... import`` in a module, function-level and relative
imports included, and ``importlib.import_module`` / ``__import__`` of a literal name), restricted to the
project packages ``datasets``, ``lifting`` and ``pipelines``, plus the parent packages whose ``__init__`` runs
on import and the package data files (``*.json``) a module names in a string constant. Each module counts
by its parsed syntax tree with docstrings and other bare string statements removed (``ast.dump``):
comments, docstrings, blank lines and formatting do not change the identity; any change to what runs does.
A JSON data file counts by its parsed value.

Two refinements keep identities narrow:

- *Model plug-ins*: the model registry imports every model, but a training run executes only one. The
  modules of the other models are left out of a training or evaluation closure (``exclude``), so editing
  MixSTE does not retrain Uplift-and-Upsample.
- *Version machinery* (``IDENTITY_MACHINERY``): the modules that derive and record version ids never shape
  an output; they are neither counted nor followed.

The entries of a stage include its flow module and the module that derives its version id from the config
(which fields are hashed), so an edit to either is a new identity; ``tests/test_code_identity.py`` checks
that every stage's flow and id derivation are in its closure. The closure does not enter the modules that
define other flows (a module with a ``@flow`` function that is not an entry): another stage reaches this
one only through its outputs, which count by content as parents. An import the closure cannot follow (a
module named by a computed string: ``importlib.import_module(name)``, ``__import__(name)``) is an error
(``UnfollowableImportError``) rather than a blind spot. See ``docs/versioning.md``.

    >>> identity = stage_code_identity("preprocess-h36m")
    >>> "datasets.h36m" in identity.sources and "lifting.models.mixste" not in identity.sources
    True
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pipelines.stage_names import (
    BASELINE,
    EVALUATE,
    FINETUNE,
    IMPORT_CHECKPOINT,
    LIFT,
    PREPROCESS_3DHP,
    PREPROCESS_AMASS,
    PREPROCESS_H36M,
    PREPROCESS_HUMANEVA,
    PRETRAIN,
)

if TYPE_CHECKING:
    from pipelines.lineage.file_hashes import JsonCacheFile

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
CODE_PACKAGES = ("datasets", "lifting", "pipelines")
"""Project packages whose modules can be part of a stage's code."""
DATA_SUFFIXES = (".json",)
"""Package data counted when a module of the closure names the file (e.g. the camera files)."""
IDENTITY_MACHINERY = frozenset(
    {"pipelines.lineage.versioning", "pipelines.lineage.code_identity", "pipelines.lineage.file_hashes"}
)
"""Modules that derive and record versions but never shape an output: not counted, not followed."""
SOURCE_DIGITS = 16
"""Hex digits of each source's digest recorded in the manifest (enough to tell which source changed)."""


@dataclass(frozen=True)
class StageCode:
    """What a stage runs.

    Attributes:
        entries: Modules whose closure is the stage's code: the task bodies, the flow, and the module that
            derives the version id (for conversions, the store writer in ``pipelines.convert.conversion`` too).
        version: Bump to force a new version of the stage when something outside the project's code changes
            its output (e.g. a library upgrade that changes results); project code counts by itself.
    """

    entries: tuple[str, ...]
    version: int = 1


STAGE_CODE: Mapping[str, StageCode] = MappingProxyType(
    {
        PREPROCESS_AMASS: StageCode(("datasets.amass.convert", "datasets.amass.discovery", "pipelines.convert.amass")),
        PREPROCESS_H36M: StageCode(("datasets.h36m", "pipelines.convert.benchmarks")),
        PREPROCESS_3DHP: StageCode(("datasets.mpi_inf_3dhp", "pipelines.convert.benchmarks")),
        PREPROCESS_HUMANEVA: StageCode(("datasets.humaneva", "pipelines.convert.benchmarks")),
        PRETRAIN: StageCode(("lifting.training", "pipelines.train.flows", "pipelines.train.publish")),
        FINETUNE: StageCode(("lifting.training", "pipelines.train.flows", "pipelines.train.publish")),
        EVALUATE: StageCode(("lifting.evaluation", "pipelines.evaluate.flows")),
        BASELINE: StageCode(("lifting.evaluation.baseline", "pipelines.evaluate.flows")),
        IMPORT_CHECKPOINT: StageCode(("lifting.released", "pipelines.lift.import_checkpoint")),
        LIFT: StageCode(("pipelines.lift.clips", "pipelines.lift.flow")),
    }
)
"""Stage name -> its code. Stages not listed (ad-hoc stages, tests) count every project module."""


@dataclass(frozen=True)
class CodeIdentity:
    """The code identity of one stage run.

    Attributes:
        fingerprint: SHA-256 (hex) of the stage version and every counted source's digest.
        version: The stage's ``StageCode.version``.
        sources: Module name (or data file path relative to the repository) -> digest prefix.
    """

    fingerprint: str
    version: int
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's ``code`` fields (the git state is added by ``StageRun``)."""
        return {"fingerprint": self.fingerprint, "version": self.version, "sources": dict(self.sources)}


class UnfollowableImportError(ImportError):
    """A module of a counted closure imports a module by a computed name, which the closure cannot follow."""

    @classmethod
    def at(cls, path: Path, problems: Sequence[str]) -> UnfollowableImportError:
        """The error naming the file, each unfollowable import (``line N: call``) and the fix."""
        return cls(
            f"{path}: {'; '.join(problems)}: a stage's code identity cannot follow a module named by a computed "
            "string; import the module by name (an import statement or a literal importlib.import_module)."
        )


class _DropStringStatements(ast.NodeTransformer):
    """Removes bare string statements: docstrings, and attribute docs after assignments."""

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return self.generic_visit(node)


def normalised_tree(source: str | ast.Module) -> str:
    """``ast.dump`` of ``source`` without docstrings, comments, positions or formatting.

    ``source`` is the text or its parsed tree (which is modified in place).
    """
    tree = _DropStringStatements().visit(ast.parse(source) if isinstance(source, str) else source)
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


@functools.lru_cache(maxsize=1)
def module_files() -> Mapping[str, Path]:
    """Every project module by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    modules = {}
    for package in CODE_PACKAGES:
        for path in sorted((REPOSITORY_ROOT / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(REPOSITORY_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return MappingProxyType(modules)


@functools.lru_cache(maxsize=1)
def data_files() -> Mapping[str, Path]:
    """Package data files by file name (e.g. ``"h36m_cameras.json"``)."""
    files = {}
    for package in CODE_PACKAGES:
        for path in sorted((REPOSITORY_ROOT / package).rglob("*")):
            if path.suffix in DATA_SUFFIXES and path.is_file():
                files[path.name] = path
    return MappingProxyType(files)


PARSE_CACHE_FILE = "code-parse.json"
"""Parsed facts of each module source, under ``datasets.workspace.user_cache_directory()``: a command reads
them back instead of parsing its closure's modules again (``docs/performance.md``, "Conversion workers")."""
PARSE_CACHE_ENTRIES = 4096
"""Entries kept (the newest): about ten versions of every module, ~4 MB."""


@functools.cache
def _parser_digest() -> str:
    """Digest of this module's source: a change to how sources are parsed or normalised voids the cache."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@functools.cache
def _parse_cache() -> JsonCacheFile:
    """Parse results by SHA-256 of (parser, module name, source): a cached entry is what parsing would give."""
    from datasets.workspace import user_cache_directory
    from pipelines.lineage.file_hashes import JsonCacheFile

    return JsonCacheFile(user_cache_directory() / PARSE_CACHE_FILE, limit=PARSE_CACHE_ENTRIES)


def _save_parse_cache() -> None:
    """Best effort: a read-only home only costs parsing again next time."""
    with contextlib.suppress(OSError):
        _parse_cache().save()


@dataclass(frozen=True)
class ParsedModule:
    """What the closure needs of one module's source.

    Attributes:
        digest: SHA-256 of its normalised syntax tree.
        imports: Project modules (and parent packages) it imports.
        data: Package data files it names.
        unfollowable: ``line N: call`` of each import by a computed name.
        defines_flow: Whether it defines a flow (a function decorated with ``flow(...)``).
    """

    digest: str
    imports: frozenset[str]
    data: frozenset[str]
    unfollowable: tuple[str, ...]
    defines_flow: bool


@functools.cache
def _parsed(module: str) -> ParsedModule:
    """The parsed facts of one project module (from the user cache when its source was parsed before)."""
    source = module_files()[module].read_bytes()
    key = hashlib.sha256(f"{_parser_digest()} {module} ".encode() + source).hexdigest()
    cache = _parse_cache()
    if key not in cache.entries:
        cache.set(key, _parse(module, source.decode()))
    digest, named, strings, unfollowable, defines_flow = cache.entries[key]
    imports = frozenset(parent for name in named for parent in _with_parents(name) if parent in module_files())
    data = frozenset(name for name in data_files() if name in strings)
    return ParsedModule(digest, imports, data, tuple(unfollowable), defines_flow)


def _parse(module: str, source: str) -> list[Any]:
    """[tree digest, imported names (absolute), string constants naming data files, unfollowable, defines a flow]."""
    tree = ast.parse(source)
    package = module if module_files()[module].name == "__init__.py" else module.rpartition(".")[0]
    named, unfollowable = imported_names(tree, package)
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    data_names = sorted(string for string in strings if string.endswith(DATA_SUFFIXES))
    defines_flow = any(
        isinstance(decorator, ast.Call) and _called_name(decorator.func) == FLOW_DECORATOR
        for node in tree.body if isinstance(node, ast.FunctionDef) for decorator in node.decorator_list
    )  # fmt: skip
    digest = hashlib.sha256(normalised_tree(tree).encode()).hexdigest()
    return [digest, sorted(named), data_names, unfollowable, defines_flow]  # parsed once


FLOW_DECORATOR = "flow"
"""``pipelines.orchestration.flow``: a module that uses it defines a flow."""
DYNAMIC_IMPORTS = frozenset({"import_module", "__import__"})
"""Calls that import a module by name (``importlib.import_module``, ``__import__``): followed when the name is a
literal, an error otherwise."""


def imported_names(tree: ast.Module, package: str) -> tuple[set[str], list[str]]:
    """Every module name a module's code imports, made absolute, and the imports that cannot be followed.

    Args:
        tree: The module's syntax tree.
        package: The package the module belongs to (the module itself for a package's ``__init__``), which
            relative imports start from.

    Returns:
        ``(names, unfollowable)``: ``from a.b import c`` names ``a.b`` and ``a.b.c`` (``c`` may be a module);
        ``unfollowable`` holds ``line N: call`` for each import of a name computed at run time.

    >>> names, unfollowable = imported_names(ast.parse("from .registry import MODELS"), "lifting.models")
    >>> sorted(names), unfollowable
    (['lifting.models.registry', 'lifting.models.registry.MODELS'], [])
    """
    named: set[str] = set()
    unfollowable: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = absolute_name(package, node.module, node.level)
            named.add(base)
            named.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _called_name(node.func) in DYNAMIC_IMPORTS:
            target = node.args[0] if node.args else None
            literal = isinstance(target, ast.Constant) and isinstance(target.value, str)
            if literal and not target.value.startswith("."):
                named.add(target.value)
            else:
                unfollowable.append(f"line {node.lineno}: {ast.unparse(node)}")
    return named, unfollowable


def _called_name(function: ast.expr) -> str:
    """The last name of a called expression: ``importlib.import_module`` -> ``import_module``."""
    if isinstance(function, ast.Attribute):
        return function.attr
    return function.id if isinstance(function, ast.Name) else ""


def absolute_name(package: str, module: str | None, level: int) -> str:
    """The absolute name of ``from <level dots><module> import ...`` inside ``package``.

    One dot is ``package`` itself, each further dot one package up: ``absolute_name("a.b", "c", 1) == "a.b.c"``,
    ``absolute_name("a.b", "c", 2) == "a.c"``.
    """
    if level == 0:
        return module or ""
    parts = package.split(".")[: len(package.split(".")) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


def _with_parents(module: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b", "a.b.c"]``: importing a module runs its parents' ``__init__``."""
    parts = module.split(".")
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def closure(entries: Iterable[str], exclude: Iterable[str] = (), strict: bool = True) -> list[str]:
    """Project modules reachable from ``entries`` (and their parent packages), sorted.

    Modules that define a flow are entered only when they are entries: another stage's flow shapes this
    stage only through the outputs it reads, which count by content.

    Args:
        entries: Dotted module names; each must be a project module.
        exclude: Modules neither counted nor followed (besides ``IDENTITY_MACHINERY``).
        strict: Raise on an import by a computed name; False only where every project module is an entry,
            so that nothing such an import names can be missing.

    Raises:
        KeyError: an entry that is not a project module, naming it.
        UnfollowableImportError: with ``strict``, a module of the closure imports a module by a computed name.
    """
    entries = tuple(entries)
    skipped = IDENTITY_MACHINERY | frozenset(exclude)
    pending = [parent for entry in entries for parent in _with_parents(entry)]
    for entry in entries:
        if entry not in module_files():
            raise KeyError(f"{entry!r} is not a module of {', '.join(CODE_PACKAGES)}")
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen or module in skipped or module not in module_files():
            continue
        parsed = _parsed(module)
        if parsed.defines_flow and module not in entries:
            continue
        seen.add(module)
        if strict and parsed.unfollowable:
            raise UnfollowableImportError.at(module_files()[module], parsed.unfollowable)
        pending.extend(parsed.imports)
    return sorted(seen)


@functools.cache
def _data_digest(name: str) -> str:
    """Digest of a JSON data file's parsed value (its formatting does not count)."""
    value = json.loads(data_files()[name].read_text())
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@functools.cache
def code_identity(
    entries: tuple[str, ...], exclude: frozenset[str] = frozenset(), version: int = 1, strict: bool = True
) -> CodeIdentity:
    """The identity of the closure of ``entries`` (cached per process: the CLI derives it on every run)."""
    modules = closure(entries, exclude, strict)
    digests = {module: _parsed(module).digest for module in modules}
    _save_parse_cache()
    for name in sorted({name for module in modules for name in _parsed(module).data}):
        digests[data_files()[name].relative_to(REPOSITORY_ROOT).as_posix()] = _data_digest(name)
    payload = json.dumps({"version": version, "sources": digests}, sort_keys=True)
    return CodeIdentity(
        fingerprint=hashlib.sha256(payload.encode()).hexdigest(),
        version=version,
        sources={name: digest[:SOURCE_DIGITS] for name, digest in sorted(digests.items())},
    )


def stage_code_identity(stage: str, chosen: Sequence[str] = (), exclude: Iterable[str] = ()) -> CodeIdentity:
    """The code identity of ``stage`` (``STAGE_CODE``; every project module for an unlisted stage).

    Args:
        stage: Stage name.
        chosen: Extra entry modules this run executes (the trained model's modules).
        exclude: Modules this run does not execute although imported (the other models' modules).
    """
    code = STAGE_CODE.get(stage)
    if code is None:  # every module is an entry: an import by a computed name cannot miss one
        everything = tuple(sorted(set(module_files()) - IDENTITY_MACHINERY))
        return code_identity(everything, frozenset(exclude) - set(chosen), strict=False)
    return code_identity(tuple(code.entries) + tuple(chosen), frozenset(exclude) - set(chosen), code.version)


def model_stage_code_identity(stage: str, model: str | None) -> CodeIdentity:
    """The identity of a training or evaluation stage that runs ``model`` and no other (None: no model at all)."""
    from lifting.models.registry import MODELS, model_modules

    chosen = model_modules(model) if model is not None else ()
    others = {module for name in MODELS for module in model_modules(name)} - set(chosen)
    return stage_code_identity(stage, chosen, others)


def changed_sources(recorded: Mapping[str, Any], current: CodeIdentity) -> list[str]:
    """Sources whose digest differs between a manifest's ``code`` and ``current`` (added or removed too)."""
    before = dict(recorded.get("sources") or {})
    names = sorted(set(before) | set(current.sources))
    changed = [name for name in names if before.get(name) != current.sources.get(name)]
    if recorded.get("version") != current.version:
        changed.append(f"stage version {recorded.get('version')} -> {current.version}")
    return changed
