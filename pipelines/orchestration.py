"""Flows that run through Prefect or, when nothing asks for Prefect, as plain calls in this process.

A Prefect 3 flow or task call needs a Prefect API; without ``PREFECT_API_URL`` Prefect starts a temporary
API server for the command (``pipelines.cli.prefect_api``), which costs seconds of every command and tracks
nothing after it ends. So mocaplift declares its flows and tasks with this module's ``flow`` and ``task``:
plain definitions that import Prefect only when they run under it (importing Prefect alone takes ~1.4 s).

- ``run_in_process(flow, parameters)`` runs a flow's own function: its tasks call their plain function,
  artifacts are skipped, and ``flow_call()`` still tells ``pipelines.lineage.versioning.flow_parameters`` which flow
  ran with which parameters (so ``--refresh`` can repeat the call). A flow called inside an in-process flow
  runs in-process too.
- Outside an in-process flow (a deployment, ``--prefect``, a configured ``PREFECT_API_URL``, tests under
  Prefect's harness) a call goes through the ``prefect.Flow`` / ``prefect.Task`` made from the definition on
  first use (``FlowDefinition.prefect``, ``TaskDefinition.prefect``), with its retries and run tracking.
  Prefect's entry points (``prefect.yaml``, ``python flows.py serve``) load those objects from ``flows.py``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets.workspace import Manifest


@dataclass(frozen=True)
class FlowCall:
    """A flow running in-process: its Prefect name and its bound parameters (defaults filled in)."""

    flow: str
    parameters: Mapping[str, Any]


_IN_PROCESS: ContextVar[FlowCall | None] = ContextVar("mocaplift_in_process_flow", default=None)


def flow_call() -> FlowCall | None:
    """The flow running in-process in this context, or None (under Prefect, or outside any flow)."""
    return _IN_PROCESS.get()


@contextmanager
def in_process(call: FlowCall) -> Iterator[None]:
    """Within the block, tasks of this module run as plain calls and artifacts are skipped."""
    token = _IN_PROCESS.set(call)
    try:
        yield
    finally:
        _IN_PROCESS.reset(token)


def run_in_process(flow: FlowDefinition | Callable[..., Any], parameters: Mapping[str, Any]) -> Any:
    """Call a flow's function with ``parameters`` without Prefect (no API, no flow run).

    Args:
        flow: A ``FlowDefinition`` (its ``fn`` and ``name`` are used), or a plain function.
        parameters: Keyword arguments of the flow.
    """
    function = getattr(flow, "fn", flow)
    bound = inspect.signature(function).bind(**parameters)
    bound.apply_defaults()
    with in_process(FlowCall(flow_name(flow), dict(bound.arguments))):
        return function(**bound.arguments)


def flow_name(flow: Any) -> str:
    """A flow's name (``preprocess-amass``), or a plain function's."""
    return getattr(flow, "name", None) or flow.__name__


class _Definition:
    """A flow's or task's function and its Prefect options; ``prefect()`` makes the Prefect object once.

    Attributes:
        fn: The function.
        name: The flow's or task's name (``preprocess-amass``).
        options: Keyword arguments of the Prefect class (``log_prints``, ``retries``, ...).
    """

    prefect_class = ""
    """``"Flow"`` or ``"Task"``: the class of ``prefect`` that ``prefect()`` makes."""

    def __init__(self, fn: Callable[..., Any], name: str, options: Mapping[str, Any]) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.name, self.options = fn, name, dict(options)
        self._prefect: Any = None

    def prefect(self) -> Any:
        """The ``prefect.Flow`` or ``prefect.Task`` of this definition, made (and Prefect imported) on first use."""
        if self._prefect is None:
            made = getattr(importlib.import_module("prefect"), self.prefect_class)
            self._prefect = made(fn=self.fn, name=self.name, **self.options)
        return self._prefect


class FlowDefinition(_Definition):
    """A flow (``flow``).

    Calling it inside an in-process flow runs it in-process (``run_in_process``); otherwise it runs as a
    Prefect flow (a subflow under a Prefect flow run).
    """

    prefect_class = "Flow"

    def __call__(self, **parameters: Any) -> Any:  # noqa: D102 - see the class
        if flow_call() is not None:
            return run_in_process(self, parameters)
        return self.prefect()(**parameters)


class TaskDefinition(_Definition):
    """A flow's task (``task``): a plain call while its flow runs in-process, else its ``prefect.Task``."""

    prefect_class = "Task"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102 - see the class
        if flow_call() is not None:
            return self.fn(*args, **kwargs)
        return self.prefect()(*args, **kwargs)


def flow(name: str, **options: Any) -> Callable[[Callable[..., Any]], FlowDefinition]:
    """Declare a flow, as ``prefect.flow(name=..., **options)`` would, without importing Prefect."""
    return lambda function: FlowDefinition(function, name, options)


def task(name: str, **options: Any) -> Callable[[Callable[..., Any]], TaskDefinition]:
    """Declare a task of a flow, as ``prefect.task(name=..., **options)`` would, without importing Prefect."""
    return lambda function: TaskDefinition(function, name, options)


def create_markdown_artifact(markdown: str, key: str, description: str | None = None) -> None:
    """Prefect's Markdown artifact under a flow run; nothing in-process (the version's summary.md has it)."""
    if flow_call() is None:
        from prefect.artifacts import create_markdown_artifact as prefect_markdown_artifact

        prefect_markdown_artifact(markdown=markdown, key=key, description=description)


def publish_summary(manifest: Manifest) -> str:
    """A version's Markdown summary as Prefect's artifact under its stage's key (nothing in-process); its id."""
    create_markdown_artifact(markdown=manifest.summary, key=manifest.stage, description=manifest.id)
    return manifest.id
