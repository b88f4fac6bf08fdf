"""Shared pieces of the command line: the Typer app, option types, and how a command starts a flow."""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from datasets.config import docstring
from datasets.escaping import terminal_text
from datasets.workspace import WORKSPACE_ENVIRONMENT_VARIABLE
from pipelines.cli.prefect_api import API_URL_VARIABLE, start_temporary_api_early, wait_for_temporary_api

if TYPE_CHECKING:
    from pipelines.orchestration import FlowDefinition

Command = TypeVar("Command", bound=Callable[..., Any])

app = typer.Typer(
    name="flows.py",
    help=(
        "mocaplift: convert Human3.6M, MPI-INF-3DHP, HumanEva-I and AMASS into versioned pose stores, "
        "then pretrain, finetune and evaluate 2D-to-3D uplifting transformers on them.\n\n"
        "Every stage's output is a version in the workspace (see `versions` and `show`); rerunning a stage "
        "with the same inputs and config reuses its version."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DEBUG_ENVIRONMENT_VARIABLE = "MOCAPLIFT_DEBUG"
"""Set (to 1) by ``--debug``: errors keep their tracebacks, in Prefect's logs and after ``error:``."""
PREFECT_ENVIRONMENT_VARIABLE = "MOCAPLIFT_PREFECT"
"""Set (to 1) by ``--prefect``: run flows through Prefect even when no ``PREFECT_API_URL`` is configured."""
IN_PROCESS_NOTE = (
    "running {flow} in this process without Prefect (no PREFECT_API_URL); "
    "for Prefect run tracking pass --prefect (python flows.py --prefect {flow} ...) or set PREFECT_API_URL"
)
PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""Prefect's loggers that log a failed run's exception with its traceback before ``run_flow`` reports it."""


@app.callback()
def global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors (before the command).")] = False,
    prefect: Annotated[
        bool,
        typer.Option(
            "--prefect",
            help="Run the flow through Prefect (a temporary local API server unless PREFECT_API_URL is set), "
            "to see its runs in Prefect. Default: through Prefect only when PREFECT_API_URL is set.",
        ),
    ] = False,
) -> None:
    """Options before the command name, e.g. ``python flows.py --debug preprocess-amass``."""
    if debug:
        os.environ[DEBUG_ENVIRONMENT_VARIABLE] = "1"
    if prefect:
        os.environ[PREFECT_ENVIRONMENT_VARIABLE] = "1"


class _WithoutTraceback(logging.Filter):
    """Keep a log record's message, drop its traceback (the command ends with one ``error:`` line instead)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not os.environ.get(DEBUG_ENVIRONMENT_VARIABLE):
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        envvar=WORKSPACE_ENVIRONMENT_VARIABLE,
        help="Workspace holding every version: a directory or a URL such as s3://bucket/prefix "
        f"(default ./workspace, or ${WORKSPACE_ENVIRONMENT_VARIABLE}).",
        show_default=False,
    ),
]


def optional_str(path: str | Path | None) -> str | None:
    """A path option as the string a flow parameter takes (None stays None)."""
    return None if path is None else str(path)


ERROR_MESSAGE_CHARACTERS = 4000
"""An ``error:`` message is cut to this many characters: a hostile input can make one arbitrarily long."""


def bounded(message: object) -> str:
    """``message`` as text of at most ``ERROR_MESSAGE_CHARACTERS``, saying how much was cut."""
    text = str(message)
    if len(text) <= ERROR_MESSAGE_CHARACTERS:
        return text
    cut = len(text) - ERROR_MESSAGE_CHARACTERS
    return f"{text[:ERROR_MESSAGE_CHARACTERS]}... ({cut} more characters; --debug shows all)"


def echo(text: object, err: bool = False) -> None:
    """Print a line that may hold names from data files or manifests, control characters escaped (ESC, BEL)."""
    typer.echo(terminal_text(text), err=err)


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop the command with one ``error: <message>`` line on stderr (exit 2: a bad argument, before any work)."""
    echo(f"error: {bounded(message)}", err=True)
    raise typer.Exit(code)


def use_prefect() -> bool:
    """Whether a command runs its flow through Prefect: a Prefect API is configured, or ``--prefect`` was given.

    Otherwise the flow runs in this process as plain calls (``pipelines.orchestration``): Prefect would start a
    temporary API server for the command (seconds) only to record runs that vanish with it.
    """
    return bool(os.environ.get(API_URL_VARIABLE) or os.environ.get(PREFECT_ENVIRONMENT_VARIABLE))


def command(name: str) -> Callable[[Command], Command]:
    """Decorator: register the function as the subcommand ``name``, its docstring as its help.

    The docstring is read from the source under ``python -OO`` (``datasets.config.docstring``), so help stays.
    """

    def register(function: Command) -> Command:
        return app.command(name, help=docstring(function))(function)

    return register


def flow_command(name: str) -> Callable[[Command], Command]:
    """Decorator: ``command(name)`` for a command whose body imports its flow and calls ``run_flow`` with it.

    When the flow will run through Prefect (``use_prefect``) without a configured API, Prefect's temporary API
    server starts before the body runs, so that it boots while the body imports the flow's modules
    (``pipelines.cli.prefect_api``); ``run_flow`` waits for it.
    """

    def register(function: Command) -> Command:
        @functools.wraps(function)
        def starting_prefect_first(**arguments: Any) -> Any:
            if use_prefect():
                start_temporary_api_early()
            return function(**arguments)

        return command(name)(starting_prefect_first)  # type: ignore[return-value]

    return register


def run_flow(flow: FlowDefinition | Callable[..., Any], announce_version: bool = True, **parameters: Any) -> None:
    """Run a flow; turn clear input errors and interruptions into one message and exit 1 (no traceback).

    The flow runs in this process (``pipelines.orchestration.run_in_process``) unless ``use_prefect``. Prefect's
    own logs of a failure keep their one-line message but lose the traceback, unless ``--debug``.

    Args:
        flow: The flow (a ``pipelines.orchestration.FlowDefinition``, or a plain function), imported by the
            command by name.
        announce_version: Print ``version <id>`` with the flow's result (flows that return a version id).
        **parameters: The flow's parameters.
    """
    from datasets.errors import EnvironmentFailure
    from pipelines.errors import NothingAcceptedError, TrainingInterrupted

    through_prefect = use_prefect()
    for name in PREFECT_RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _WithoutTraceback) for existing in logger.filters):
            logger.addFilter(_WithoutTraceback())
    try:
        if through_prefect:
            wait_for_temporary_api()
            result = flow(**parameters)
        else:
            from pipelines.orchestration import flow_name, run_in_process

            typer.echo(IN_PROCESS_NOTE.format(flow=flow_name(flow)))
            result = run_in_process(flow, parameters)
    except (NothingAcceptedError, EnvironmentFailure, TrainingInterrupted, OSError, ValueError) as error:
        if os.environ.get(DEBUG_ENVIRONMENT_VARIABLE):
            traceback.print_exc()
        echo(f"error: {bounded(error)}", err=True)
        raise typer.Exit(1) from None
    if announce_version:
        typer.echo(f"version {result}")
