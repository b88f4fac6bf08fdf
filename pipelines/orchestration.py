"""Flows that run through Prefect or, when nothing asks for Prefect, as plain calls in this process.

A Prefect 3 flow or task call needs a Prefect API; without ``PREFECT_API_URL`` Prefect starts a temporary
API server for the command (``pipelines.cli.prefect_api``), which costs seconds of every command and tracks
nothing after it ends. ``run_in_process(flow, parameters)`` runs the flow's own function instead: the
flows' tasks (declared with this module's ``task``) call their plain function, artifacts are skipped, and
``flow_call()`` still tells ``pipelines.versioning.flow_parameters`` which flow ran with which parameters
(so ``--refresh`` can repeat the call); a flow that starts another goes through ``call_flow``, which stays
in-process in-process. Under a Prefect flow run (a deployment, ``--prefect``, or a
configured ``PREFECT_API_URL``) the same tasks are ordinary Prefect tasks with their retries.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from prefect import Task
from prefect.artifacts import create_markdown_artifact as _prefect_markdown_artifact


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


def run_in_process(flow: Any, parameters: Mapping[str, Any]) -> Any:
    """Call a Prefect flow's function with ``parameters`` without Prefect (no API, no flow run).

    Args:
        flow: A ``prefect.Flow`` (its ``fn`` and ``name`` are used), or a plain function.
        parameters: Keyword arguments of the flow.
    """
    function = getattr(flow, "fn", flow)
    bound = inspect.signature(function).bind(**parameters)
    bound.apply_defaults()
    with in_process(FlowCall(flow_name(flow), dict(bound.arguments))):
        return function(**bound.arguments)


def call_flow(flow: Any, **parameters: Any) -> Any:
    """Call a flow from inside another: in-process when the calling flow runs in-process, else as a subflow."""
    if flow_call() is not None:
        return run_in_process(flow, parameters)
    return flow(**parameters)


def flow_name(flow: Any) -> str:
    """A Prefect flow's name (``preprocess-amass``), or a plain function's."""
    return getattr(flow, "name", None) or flow.__name__


class StepTask(Task):
    """A Prefect task that is a plain function call while a flow runs in-process (``run_in_process``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102 - Prefect's call, see the class
        if flow_call() is not None:
            return self.fn(*args, **kwargs)
        return super().__call__(*args, **kwargs)


def task(**options: Any) -> Callable[[Callable[..., Any]], StepTask]:
    """``prefect.task(**options)`` for flows that may also run in-process (``StepTask``)."""

    def decorate(function: Callable[..., Any]) -> StepTask:
        return StepTask(fn=function, **options)

    return decorate


def create_markdown_artifact(markdown: str, key: str, description: str | None = None) -> None:
    """Prefect's Markdown artifact under a flow run; nothing in-process (the version's summary.md has it)."""
    if flow_call() is None:
        _prefect_markdown_artifact(markdown=markdown, key=key, description=description)
