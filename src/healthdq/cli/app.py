"""The typer app and what every verb shares: error/warning lines and the --fail-on exit."""

from __future__ import annotations

from collections.abc import Iterable

import typer
from rich.console import Console

from healthdq.errors import HealthdqError
from healthdq.results import RunResult
from healthdq.results.status import FAIL_ON

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Data quality for NHS health and care data: check, profile, synthesise.",
    pretty_exceptions_enable=False,
    # Plain help: flags without a type column, and "healthdq[spark]" not read as markup.
    rich_markup_mode=None,
)
err = Console(stderr=True)
SEVERITIES = list(FAIL_ON)


def warn(messages: Iterable[str]) -> None:
    for message in messages:
        err.print(f"[yellow]healthdq: warning:[/] {message}", highlight=False, soft_wrap=True)


def warn_one(message: str) -> None:
    warn([message])


def check_fail_on(fail_on: str) -> None:
    if fail_on not in FAIL_ON:
        raise HealthdqError(f"--fail-on must be one of {', '.join(SEVERITIES)}")


def exit_for(result: RunResult, fail_on: str) -> None:
    """Exit 1 when a rule failed or errored at or above the --fail-on severity."""
    if result.worst_failure() >= FAIL_ON[fail_on]:
        raise typer.Exit(1)
