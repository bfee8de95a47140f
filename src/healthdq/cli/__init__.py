"""The healthdq command line: one module per verb, each a thin layer over healthdq.pipeline.

A verb parses options and calls the library; it holds no logic of its own. To add a verb, add a
module defining an `@app.command()` and import it below.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from healthdq import __version__
from healthdq.cli import (  # noqa: F401  (verbs)
    audit,
    check,
    fhir,
    omop,
    packs,
    profile,
    pseudonymise,
    redact,
    risk,
    runs,
    synth,
    validate,
)
from healthdq.cli.app import app, err
from healthdq.errors import HealthdqError
from healthdq.governance.messages import engine_message

__all__ = ["app", "main"]


def _version(value: bool) -> None:
    if value:
        print(f"healthdq {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """healthdq: is this health and care data fit for care, planning and AI?"""


def main() -> None:
    """Entry point: user errors become one line and exit 2, never a traceback."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except HealthdqError as exc:
        err.print(
            f"[bold red]healthdq: error:[/] {exc.one_line()}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("healthdq: aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors and anything unexpected
        # Usage errors (typer's bundled click) know how to show themselves.
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            sys.exit(2)
        if os.environ.get("HEALTHDQ_DEBUG"):
            raise
        # Unexpected errors may carry an engine's text, which quotes data: rewritten.
        first = engine_message(exc)
        err.print(
            f"healthdq: error: {type(exc).__name__}: {first}", highlight=False, soft_wrap=True
        )
        sys.exit(2)
