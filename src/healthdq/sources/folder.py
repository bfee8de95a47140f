"""Multi-table locations: a folder (or zip) holding one file per table, registered on any engine.

An OMOP CDM today, a FHIR bulk export next: each file becomes a relation named after the file
(lower case, without its suffix), read by the engine's own reader through `Engine.register`, so
the same folder gives the same tables on DuckDB and on Spark. A file that cannot be read is a
warning, not the end of the run: the other tables are still checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from healthdq.errors import SourceError
from healthdq.sources.base import ReadOptions, RegisteredTable
from healthdq.sources.locate import format_of, is_remote, stem, suffix, unzip

if TYPE_CHECKING:
    from healthdq.engine.base import Engine

# OMOP CDM tables: every column typed from its values, lower-case names.
CDM_OPTIONS = ReadOptions(lower_case=True, infer_all_types=True)
TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")


@dataclass
class Folder:
    """The tables registered from one location, and what was skipped."""

    location: str
    tables: dict[str, RegisteredTable] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def table_files(
    location: str, workdir: str | None = None, suffixes: tuple[str, ...] = TABLE_SUFFIXES
) -> list[Path]:
    """The data files of a folder or zip, in name order."""
    path = Path(location)
    if is_remote(location):
        raise SourceError("give a local folder or zip of table files", path=location)
    if not path.exists():
        raise SourceError("not found", path=location)
    if path.is_file() and format_of(path.name) == "zip":
        files = [Path(f) for f in unzip(str(path), workdir)]
    elif path.is_dir():
        files = [p for p in path.iterdir() if p.is_file()]
    else:
        raise SourceError("give a folder or a zip of table files", path=location)
    found = sorted(p for p in files if suffix(p.name) in suffixes)
    if not found:
        kinds = ", ".join(sorted({s.lstrip(".") for s in suffixes}))
        raise SourceError(f"holds no table files ({kinds})", path=location)
    return found


def register_folder(
    engine: Engine,
    location: str,
    options: ReadOptions | None = None,
    suffixes: tuple[str, ...] = TABLE_SUFFIXES,
) -> Folder:
    """Register every table file of a folder or zip as a relation named after the file.

    A second file for a table is skipped with a warning; a zero-byte file is a table with no
    columns and no rows (neither engine reads it); an unreadable file is a warning.
    """
    opts = options or CDM_OPTIONS
    folder = Folder(location=location)
    for path in table_files(location, engine.workdir(), suffixes):
        name = stem(path.name)
        if name in folder.tables:
            folder.warnings.append(f"{path.name}: a second file for table {name}, ignored")
        elif path.stat().st_size == 0:
            folder.tables[name] = RegisteredTable(
                name=name, source=str(path), format=format_of(path.name) or "", columns={}, rows=0
            )
        else:
            try:
                table = engine.register(name, str(path), opts)
            except SourceError as exc:
                folder.warnings.append(f"{path.name}: cannot be read ({exc.message})")
                continue
            table.source = str(path)
            folder.tables[name] = table
    return folder
