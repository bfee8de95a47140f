"""What is inside a file: compression (by magic bytes), encoding, header and delimiter.

Engine-neutral: both readers call these before handing the file to their engine, so a file is
understood the same way on DuckDB and on Spark.
"""

from __future__ import annotations

import codecs
import csv as pycsv
import gzip
import re
from pathlib import Path

from healthdq.errors import SourceError

HEAD_BYTES = 1 << 20
DELIMITERS = [",", "\t", ";", "|"]
# Magic bytes of compressed files. gzip and zstd are read as such; the rest are refused.
MAGIC: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
]
READABLE = {"gzip", "zstd"}
NUL_SAMPLE = 4096  # bytes looked at for UTF-16 without a byte-order mark
OTHER_HEAD_BYTES = 1 << 16  # enough for the header of a table's second and later files


def compression(path: str) -> str | None:
    """'gzip', 'zstd', 'bzip2', 'xz', 'zip' from the file's first bytes, or None."""
    with open(path, "rb") as fh:
        first = fh.read(8)
    return next((kind for magic, kind in MAGIC if first.startswith(magic)), None)


def read_head(path: str, size: int = HEAD_BYTES) -> tuple[bytes, str | None]:
    """The first `size` bytes of the file's content (decompressed) and its compression."""
    kind = compression(path)
    if kind is not None and kind not in READABLE:
        raise SourceError(
            f"file is {kind}-compressed: decompress it first (gzip and zstd are read as such)",
            path=path,
        )
    try:
        if kind == "gzip":
            with gzip.open(path, "rb") as fh:
                return fh.read(size), kind
        if kind == "zstd":
            import zstandard

            with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
                return _read_up_to(fh, size), kind
    except (OSError, EOFError, ValueError) as exc:
        raise SourceError(f"{kind} file cannot be decompressed ({exc})", path=path) from None
    except ImportError:
        raise SourceError("zstd files need the zstandard package", path=path) from None
    with open(path, "rb") as fh:
        return fh.read(size), None


def _read_up_to(fh: object, size: int) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < size:
        chunk = fh.read(size - got)  # type: ignore[attr-defined]
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when NUL bytes sit on one side of each byte pair.

    Text that is mostly ASCII, written as UTF-16, has a NUL in every pair: the high byte, which
    comes second in little-endian and first in big-endian. UTF-8 and latin-1 text has none.
    """
    sample = head[: NUL_SAMPLE - NUL_SAMPLE % 2]
    pairs = len(sample) // 2
    if pairs < 2 or b"\x00" not in sample:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    if odd >= pairs // 2 and even <= pairs // 20:
        return "utf-16-le"
    if even >= pairs // 2 and odd <= pairs // 20:
        return "utf-16-be"
    return None


def detect_encoding(head: bytes, path: str) -> tuple[str, str | None]:
    """The encoding of a file's first bytes, and a warning when it is a guess.

    'utf-16' means a byte-order mark says which end comes first; 'utf-16-le'/'utf-16-be' were
    read from the NUL pattern of a file without one. NUL bytes in no such pattern are refused:
    such a file is binary or in an encoding we would misread.
    """
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", None
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", None
    utf16 = utf16_without_bom(head)
    if utf16:
        return utf16, None
    if b"\x00" in head[:NUL_SAMPLE]:
        raise SourceError(
            "file holds NUL bytes: binary, or an encoding other than UTF-8, UTF-16 or latin-1 "
            "(give --encoding)",
            path=path,
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", None
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        return "latin-1", f"{path}:{line}: not UTF-8; read as latin-1 (override with --encoding)"


def is_big_endian(encoding: str, head: bytes) -> bool:
    """True for UTF-16 text whose high byte comes first (DuckDB reads only the other order)."""
    name = codecs.lookup(encoding).name
    return name == "utf-16-be" or (name == "utf-16" and head.startswith(codecs.BOM_UTF16_BE))


def decode(head: bytes, encoding: str) -> str:
    try:
        text = head.decode(encoding, errors="replace")
    except LookupError:
        raise SourceError(f"unknown encoding '{encoding}'") from None
    return text.lstrip("\ufeff")


def header(head: bytes, encoding: str, delimiter: str | None, path: str) -> tuple[list[str], str]:
    """Column names of the first line and the delimiter (the commonest of , tab ; |)."""
    # Any line end: \r\n, \n, or a lone \r (old Mac exports).
    first = re.split(r"\r\n|\r|\n", decode(head, encoding), maxsplit=1)[0]
    if not first.strip():
        raise SourceError("first line is blank: expected a header row", path=path, line=1)
    if delimiter is None:
        counts = {d: first.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    try:
        names = next(pycsv.reader([first], delimiter=delimiter, quotechar='"'))
    except pycsv.Error as exc:
        raise SourceError(f"header row cannot be read: {exc}", path=path, line=1) from None
    names = [n.strip() for n in names]
    seen: set[str] = set()
    for i, n in enumerate(names, start=1):
        if not n:
            raise SourceError(f"header column {i} has no name", path=path, line=1, column=i)
        if n.lower() in seen:
            raise SourceError(f"duplicate column name '{n}' in header", path=path, line=1)
        seen.add(n.lower())
    return names, delimiter


def after_header(head: bytes, encoding: str) -> str:
    """The text after the first line (blank for a header-only file that fits in `head`)."""
    text = decode(head, encoding)
    return text.split("\n", 1)[1] if "\n" in text else ""


class CsvLayout:
    """How one CSV file is written: compression, encoding, delimiter and header."""

    def __init__(
        self,
        path: str,
        compression: str | None,
        encoding: str,
        delimiter: str,
        names: list[str],
        head: bytes,
        warnings: list[str],
    ) -> None:
        self.path = path
        self.compression = compression
        self.encoding = encoding
        self.delimiter = delimiter
        self.names = names
        self.head = head
        self.warnings = warnings

    @property
    def header_only(self) -> bool:
        return len(self.head) < HEAD_BYTES and not after_header(self.head, self.encoding).strip()


def csv_layout(
    path: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    head_bytes: int = HEAD_BYTES,
) -> CsvLayout:
    """Sniff one CSV file (encoding and delimiter may be given)."""
    head, kind = read_head(path, head_bytes)
    warnings: list[str] = []
    if encoding is None:
        encoding, warning = detect_encoding(head, path)
        if warning:
            warnings.append(warning)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise SourceError(f"unknown encoding '{encoding}'", path=path) from None
    names, delimiter = header(head, encoding, delimiter, path)
    if len(names) == 1 and any(d in names[0] for d in DELIMITERS if d != delimiter):
        warnings.append(f"{path}: read as one column '{names[0]}': wrong delimiter?")
    return CsvLayout(path, kind, encoding, delimiter, names, head, warnings)


def same_columns(first: CsvLayout, other: CsvLayout) -> None:
    """Refuse two files of one table whose headers differ, naming both."""
    if [n.lower() for n in first.names] != [n.lower() for n in other.names]:
        raise SourceError(
            f"columns differ from {first.path} ({describe_difference(first.names, other.names)}); "
            "give --union-by-name to combine files by column name",
            path=other.path,
        )


def describe_difference(first: list[str], other: list[str]) -> str:
    a = {n.lower() for n in first}
    b = {n.lower() for n in other}
    parts = []
    if b - a:
        parts.append("extra " + ", ".join(n for n in other if n.lower() in b - a))
    if a - b:
        parts.append("missing " + ", ".join(n for n in first if n.lower() in a - b))
    return "; ".join(parts) or "same columns in another order"


def local(path: str) -> str:
    return str(Path(path).resolve())
