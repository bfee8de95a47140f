"""The typer app and what every verb shares: error/warning lines and the --fail-on exit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperArgument, TyperGroup, TyperOption

from healthdq.errors import HealthdqError
from healthdq.results import RunResult
from healthdq.results.status import FAIL_ON

# Placeholders of option values in --help, by parameter name; others follow the type (N, FILE,
# a choice's values) or the name in capitals. Typer's own would print <str>, <int>, <path>.
METAVARS = {
    "engine": "duckdb|spark",
    "engine_name": "duckdb|spark",
    "fmt": "FORMAT",
    "dqd_case": "camel|snake",
    "qi": "COLUMNS",
    "sensitive": "COLUMNS",
    "fail_on": "SEVERITY",
    "format": "FORMAT",
    "run_date": "YYYY-MM-DD",
    "spark_master": "URL",
    "delimiter": "CHAR",
    "pack": "NAME",
    "table": "NAME",
}


class _PlainArgument(TyperArgument):
    """An argument shown as NAME, [NAME] or NAME... in usage and help, without a type."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")


def _metavar(param: TyperOption) -> str:
    name = param.name or ""
    if name in METAVARS:
        return METAVARS[name]
    desc = param.type_descriptor
    if desc.is_choice and desc.choices:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices)
    if desc.annotation is int:
        return "N"
    if desc.annotation is float:
        return "NUMBER"
    if desc.is_path:
        return "FILE"
    return name.upper()


def plain_help(command: Any) -> None:
    """Give every parameter of `command` (and its subcommands) a plain placeholder."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.__class__ = _PlainArgument
            if param.metavar is None:
                param.metavar = (param.name or "").upper()
        elif isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
            param.metavar = _metavar(param)
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


class _PlainGroup(TyperGroup):
    """The top-level group: its commands' help shows placeholders such as FILE, N or NAME."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)


app = typer.Typer(
    cls=_PlainGroup,
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
