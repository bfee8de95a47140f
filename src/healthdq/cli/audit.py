"""`healthdq audit verify`: check the audit log's chain and known heads (docs/audit.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from healthdq.cli.app import app, err, warn
from healthdq.cli.options import StoreOption
from healthdq.errors import HealthdqError
from healthdq.governance.audit import default_log_path, open_log

audit_app = typer.Typer(
    help="The audit log of patient-level access.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(audit_app, name="audit")
_HASH = re.compile(r"^[0-9a-fA-F]{64}$")


def known_head(value: str) -> str:
    """A head given as a hash, or as a results JSON file (its `audit.head`)."""
    if _HASH.match(value):
        return value.lower()
    path = Path(value)
    if not path.is_file():
        raise HealthdqError(f"--head '{value}' is neither a 64-hex hash nor a results JSON file")
    try:
        head = json.loads(path.read_text(encoding="utf-8"))["audit"]["head"]
    except (ValueError, KeyError, TypeError):
        raise HealthdqError("results JSON has no audit.head", path=value) from None
    if not isinstance(head, str) or not _HASH.match(head):
        raise HealthdqError("results JSON audit.head is not a 64-hex hash", path=value)
    return head.lower()


def store_heads(location: str | None, log: Path) -> list[str]:
    """Heads that runs kept in the results store recorded for `log` (none if no store yet)."""
    from healthdq.store import open_store

    target = log.resolve()
    return [
        run.audit_head
        for run in open_store(location).list_runs()
        if run.audit_head and run.audit_log and Path(run.audit_log).resolve() == target
    ]


@audit_app.command()
def verify(
    log: Annotated[
        Path | None,
        typer.Argument(
            help="Audit log (default: $HEALTHDQ_AUDIT_LOG or .healthdq/audit.jsonl).",
            metavar="LOG",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Start at this run's entry (its run id).", metavar="RUN"),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(help="Key of a keyed log (default: $HEALTHDQ_AUDIT_KEY_FILE).", metavar="KEY"),
    ] = None,
    head: Annotated[
        list[str],
        typer.Option(
            "--head",
            help="A head the log must still hold: a hash or a results JSON (repeatable).",
            metavar="HASH",
        ),
    ] = [],  # noqa: B006
    store: StoreOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not check the heads kept in the results store.")
    ] = False,
) -> None:
    """Exit 0 if the log is intact, 1 naming the first bad entry, 2 on a usage error."""
    path = log if log is not None else default_log_path()
    if not path.is_file():
        raise HealthdqError("audit log not found", path=str(path))
    heads = [known_head(h) for h in head]
    if not no_store:
        heads += store_heads(store, path)
    found = open_log(path, key_file).inspect(heads, since)
    warn(found.warnings)
    if not found.ok:
        err.print(
            f"[bold red]healthdq: audit:[/] {found.error().one_line()}",
            highlight=False,
            soft_wrap=True,
        )
        err.print(f"{found.entries} entries before it are intact", highlight=False)
        raise typer.Exit(1)
    chain = f"hmac-sha256, key id {found.key_id}" if found.key_id else "sha256, unkeyed"
    if found.key_id and found.unkeyed:
        chain += f"; {found.unkeyed} unkeyed first"
    checked = f", {len(heads)} known heads found" if heads else ""
    print(f"{path}: {found.entries} entries intact ({chain}{checked}); head {found.head}")
