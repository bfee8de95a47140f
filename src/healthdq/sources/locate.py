"""Where data is: a file, a glob, a folder, a zip of CSVs or cluster storage, and its format.

A location resolves to a list of local files (or one remote URL that the engine lists itself)
and one format. Zip archives are unpacked into a working folder first: neither engine reads
members of a zip in place.
"""

from __future__ import annotations

import glob as globmod
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from healthdq.errors import SourceError

FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".psv": "csv",
    ".csv.gz": "csv",
    ".tsv.gz": "csv",
    ".csv.zst": "csv",
    ".tsv.zst": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".ndjson.gz": "json",
    ".duckdb": "duckdb",
    ".db": "duckdb",
    ".zip": "zip",
}
# Storage that the engine lists itself (s3://, abfss://, dbfs:/, hdfs://); file: URLs are local.
REMOTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]+:(//|/)")


def is_remote(location: str) -> bool:
    return bool(REMOTE.match(location)) and not location.startswith("file:")


def suffix(path: str) -> str:
    """The longest known suffix of `path` ('.csv.gz' before '.gz'), lower case."""
    lower = path.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):
        if lower.endswith(ext):
            return ext
    return Path(lower).suffix


def stem(path: str) -> str:
    """The file name without its known suffix, lower case: a folder member's table name."""
    name = Path(path).name.lower()
    ext = suffix(name)
    return name[: -len(ext)] if ext and name.endswith(ext) else Path(name).stem


def format_of(path: str) -> str | None:
    return FORMATS.get(suffix(path))


def resolve_files(location: str, workdir: str | None = None) -> tuple[list[str], str | None]:
    """Expand a file, folder, glob or zip of CSVs into files and their one detected format."""
    path = Path(location)
    if any(ch in location for ch in "*?["):
        files = sorted(globmod.glob(location, recursive=True))
        if not files:
            raise SourceError("no files match this pattern", path=location)
    elif path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.is_file() and suffix(p.name) in FORMATS)
        if not files:
            raise SourceError("folder holds no csv, parquet, json or duckdb files", path=location)
    elif path.exists():
        files = [str(path)]
    else:
        raise SourceError("file not found", path=location)
    if len(files) == 1 and format_of(files[0]) == "zip":
        files = unzip(files[0], workdir)
    formats = {format_of(f) for f in files}
    if len(formats) > 1:
        raise SourceError(f"mixed file types {sorted(str(f) for f in formats)}", path=location)
    fmt = formats.pop()
    for f in files:
        if Path(f).stat().st_size == 0:
            raise SourceError("file is empty", path=f)
    return files, fmt


def unzip(archive: str, workdir: str | None = None) -> list[str]:
    """The data files of a zip, unpacked flat into a new folder under `workdir`, in name order.

    Only members with a data suffix are unpacked, under their base name (a member path never
    leaves the folder); two members with one base name are refused.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"not a readable zip file ({exc})", path=archive) from None
    target = Path(tempfile.mkdtemp(prefix="zip-", dir=workdir))
    out: dict[str, str] = {}
    with zf:
        for info in zf.infolist():
            name = Path(info.filename).name
            if info.is_dir() or not name or name.startswith(".") or suffix(name) not in FORMATS:
                continue
            if format_of(name) in ("zip", "duckdb"):
                raise SourceError(
                    f"member {info.filename}: only data files inside a zip", path=archive
                )
            if name.lower() in out:
                raise SourceError(
                    f"members {out[name.lower()]} and {info.filename} have one file name",
                    path=archive,
                )
            try:
                with zf.open(info) as src, open(target / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise SourceError(
                    f"member {info.filename} cannot be unpacked ({exc})", path=archive
                ) from None
            out[name.lower()] = str(target / name)
    if not out:
        raise SourceError("zip holds no csv, parquet or json files", path=archive)
    return sorted(out.values())
