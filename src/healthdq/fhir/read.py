"""Read FHIR R4 into one engine table: resources, Bundles and Bulk Data NDJSON, files or folders.

    issues = read_fhir(engine, "export/", table="fhir_resources")

registers `fhir_resources` (resource_type, id, resource, full_url, source_file, source_line,
source_entry; docs/fhir.md) on a DuckDB or Spark engine. The engine reads the files itself
(DuckDB's CSV reader and read_text, Spark's text source), line by line, in parallel and in
chunks: an export larger than memory is never loaded into Python. Each line of an NDJSON file,
or each .json file, is one JSON document; a Bundle is kept and its entries unwrapped, each with
its fullUrl and entry index, so `urn:uuid:` and relative references resolve within the table.

Bad input is reported, never fatal: every line or entry that cannot be read becomes a
`FhirReadIssue` naming the file and line (or entry index), and the rest is read. Messages name
the problem, never a value from the data.
"""

from __future__ import annotations

import gzip
import importlib
import json
import tempfile
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from healthdq.errors import SourceError
from healthdq.sources.locate import is_remote

DEFAULT_TABLE = "fhir_resources"
# (engine table columns, DuckDB types): the contract every FHIR module builds on.
COLUMNS: list[tuple[str, str]] = [
    ("resource_type", "VARCHAR"),
    ("id", "VARCHAR"),
    ("resource", "JSON"),
    ("full_url", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
    ("source_entry", "INTEGER"),
]
# File name endings read as NDJSON (one resource a line) and as one JSON document.
NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")
JSON_SUFFIXES = (".json",)
# Deeper than this is reported (and still read): no FHIR resource needs it, and a chain this
# deep is how a file attacks recursive parsers.
MAX_DEPTH = 100
# Issues listed one by one; beyond this a final line counts the rest.
MAX_ISSUES = 1000
# A .json file whose first line (up to this size) is a whole JSON object followed by more lines
# is NDJSON under another name (some exporters write .json).
SNIFF_LINE_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"

# Issue codes the engine readers produce -> message. One table, so both engines say the same.
MESSAGES: dict[str, str] = {
    "invalid_json": "not valid JSON (truncated, or not a JSON line): skipped",
    "not_object": "not a JSON object: skipped",
    "no_resource_type": "no resourceType: not a FHIR resource, skipped",
    "unknown_type": "unknown resourceType{detail} (not a FHIR R4 resource): read",
    "entry_no_resource": "Bundle entry has no resource: skipped",
    "entry_not_object": "Bundle entry is not a JSON object: skipped",
    "deep": f"nested more than {MAX_DEPTH} levels deep: read",
    "bom": "starts with a UTF-8 byte order mark: ignored",
    "gzip_truncated": "gzip file ends early: read up to here, the rest is lost",
    "gzip_unreadable": "not a readable gzip file: skipped",
    "empty": "file is empty",
    "unreadable": "cannot be read{detail}: skipped",
}
# Codes whose resource is still in the table.
KEPT = {"unknown_type", "deep", "bom"}


@dataclass(frozen=True)
class FhirReadIssue:
    """A line, Bundle entry or file that could not be read as given (or was read with a caveat).

    `line` is 1-based (NDJSON line; 1 for a .json file), `entry` the 0-based Bundle entry index.
    `kept` is True when the resource is in the table all the same (unknown resourceType, deep
    nesting, byte order mark).
    """

    file: str
    line: int | None
    entry: int | None
    message: str
    kept: bool = False

    def where(self) -> str:
        out = self.file
        if self.line is not None:
            out += f":{self.line}"
        if self.entry is not None:
            out += f" entry {self.entry}"
        return out

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"


@dataclass
class FhirFile:
    """One file to read: `path` as the user named it, `read_path` what the engine reads."""

    path: str
    read_path: str
    kind: str  # 'ndjson' or 'json'
    compression: str | None = None  # 'gzip' or None
    bom: bool = False


# An engine reader's issue: (file index, line, entry, code, detail).
RawIssue = tuple[int, int | None, int | None, str, str | None]


class FhirReader(Protocol):
    def __call__(
        self, engine: Any, table: str, files: list[FhirFile], known: list[str]
    ) -> tuple[list[RawIssue], int]:
        """Register `table`; return the first MAX_ISSUES + 1 issues in order and their count."""


# Engine name -> the module whose `read_fhir` reads files into that engine.
READERS: dict[str, str] = {
    "duckdb": "healthdq.sources.fhir_duckdb",
    "spark": "healthdq.sources.fhir_spark",
}


@cache
def resource_types() -> list[str]:
    """FHIR R4 resource types (data: r4_resource_types.json, from the R4 core package)."""
    path = Path(__file__).with_name("r4_resource_types.json")
    return list(json.loads(path.read_text(encoding="utf-8"))["resource_types"])


def read_fhir(engine: Any, location: str, table: str = DEFAULT_TABLE) -> list[FhirReadIssue]:
    """Register the FHIR data at `location` as `table` on `engine`; return what could not be read.

    `engine` is a healthdq Engine (DuckDB or Spark) or a DuckDB connection. Raises SourceError
    only when there is nothing to read (no such file, no FHIR files in the folder).
    """
    name = _engine_name(engine)
    module = READERS.get(name)
    if module is None:
        raise SourceError(f"the {name} engine cannot read FHIR", path=location)
    files, issues = fhir_files(location)
    reader: FhirReader = importlib.import_module(module).read_fhir
    raw, total = reader(engine, table, files, resource_types())
    out = issues + [_issue(files, r) for r in raw[:MAX_ISSUES]]
    out.sort(key=lambda i: (i.file, i.line or 0, -1 if i.entry is None else i.entry))
    if total > MAX_ISSUES:
        out.append(
            FhirReadIssue(location, None, None, f"{total - MAX_ISSUES} more problems not listed")
        )
    return out


def _engine_name(engine: Any) -> str:
    import duckdb

    if isinstance(engine, duckdb.DuckDBPyConnection):
        return "duckdb"
    return str(getattr(engine, "name", type(engine).__name__))


def _issue(files: list[FhirFile], raw: RawIssue) -> FhirReadIssue:
    index, line, entry, code, detail = raw
    if code == "unreadable":  # an engine message, already rid of data (engine_message)
        shown = f" ({detail})" if detail else ""
    else:
        shown = f" '{detail}'" if _safe_type(detail) else ""
    text = MESSAGES[code].replace("{detail}", shown)
    return FhirReadIssue(files[index].path, line, entry, text, kept=code in KEPT)


def _safe_type(value: str | None) -> bool:
    """A resourceType worth quoting: a short type-like name, never a value from the data."""
    return value is not None and value.isascii() and value.isalpha() and len(value) <= 64


# -- files -------------------------------------------------------------------------------------


def fhir_files(location: str) -> tuple[list[FhirFile], list[FhirReadIssue]]:
    """The FHIR files at a file, folder or glob, classified; empty files reported, not read."""
    if is_remote(location):
        raise SourceError("FHIR is read from local files, folders or globs", path=location)
    path = Path(location)
    if any(ch in location for ch in "*?["):
        import glob as globmod

        names = sorted(f for f in globmod.glob(location, recursive=True) if Path(f).is_file())
        if not names:
            raise SourceError("no files match this pattern", path=location)
    elif path.is_dir():
        names = sorted(str(p) for p in path.iterdir() if p.is_file() and _kind(p.name))
        if not names:
            raise SourceError("folder holds no .json, .ndjson or .ndjson.gz files", path=location)
    elif path.is_file():
        names = [location]
    else:
        raise SourceError("file not found", path=location)
    files: list[FhirFile] = []
    issues: list[FhirReadIssue] = []
    for name in names:
        kind = _kind(name)
        if kind is None:
            raise SourceError("not a FHIR file (.json, .ndjson, .ndjson.gz)", path=name)
        if Path(name).stat().st_size == 0:
            issues.append(FhirReadIssue(name, None, None, MESSAGES["empty"]))
            continue
        f = _classify(name, kind)
        if f.bom:
            issues.append(FhirReadIssue(name, 1, None, MESSAGES["bom"], kept=True))
        files.append(f)
    return files, issues


def _kind(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    return None


def _classify(name: str, kind: str) -> FhirFile:
    with open(name, "rb") as raw:
        magic = raw.read(2)
    compression = "gzip" if magic == GZIP_MAGIC else None
    head = b""
    try:
        with _open(name, compression) as fh:
            head = fh.read(len(BOM))
            if kind == "json" and compression is None:
                kind = _json_or_ndjson(head + fh.readline(SNIFF_LINE_BYTES), fh)
    except (OSError, EOFError, zlib.error):
        pass  # a damaged gzip file: the reader reports it
    return FhirFile(name, name, kind, compression, head == BOM)


def _json_or_ndjson(first: bytes, rest: Any) -> str:
    """'ndjson' when the first line is a whole JSON object and more lines follow."""
    if not first.endswith(b"\n"):
        return "json"
    try:
        json.loads(first.removeprefix(BOM))
    except ValueError:
        return "json"
    return "ndjson" if rest.readline(SNIFF_LINE_BYTES).strip() else "json"


def _open(name: str, compression: str | None) -> Any:
    return gzip.open(name, "rb") if compression == "gzip" else open(name, "rb")  # noqa: SIM115


def salvage_gzip(f: FhirFile, index: int, workdir: str | None) -> tuple[FhirFile, RawIssue | None]:
    """What a damaged gzip file (file number `index`) holds up to where it breaks, decompressed
    into `workdir`, and the issue placed on the first line not wholly read.

    Codec work in 1 MB chunks, no per-line Python.
    """
    target = Path(tempfile.mkdtemp(prefix="gunzip-", dir=workdir)) / "salvaged.ndjson"
    lines = 0
    broken = False
    with open(f.read_path, "rb") as src, open(target, "wb") as out:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while chunk := src.read(1 << 20):
                data = inflate.decompress(chunk)
                while inflate.eof and inflate.unused_data:  # concatenated gzip members
                    rest = inflate.unused_data
                    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data += inflate.decompress(rest)
                if data:
                    out.write(data)
                    lines += data.count(b"\n")
            broken = not inflate.eof
        except zlib.error:
            broken = True
    copy = FhirFile(f.path, str(target), f.kind, None, f.bom)
    if target.stat().st_size == 0:
        return copy, (index, None, None, "gzip_unreadable", None)
    if not broken:
        return copy, None
    # The break is on the first line not wholly read (a partial line is also reported by the
    # reader, as invalid JSON).
    return copy, (index, lines + 1, None, "gzip_truncated", None)
