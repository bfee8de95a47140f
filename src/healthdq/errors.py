"""Errors a user can act on: each carries a one-line message and exit code 2."""

from __future__ import annotations


class HealthdqError(Exception):
    """An input or usage problem reported as one line, exit code 2."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.path:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        return f"{where}{self.message}".replace("\n", " ")


class SourceError(HealthdqError):
    """A data file or database could not be read."""


class ContractError(HealthdqError):
    """A contract or pack file is invalid."""
