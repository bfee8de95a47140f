"""Property tests over the CSV reader: any bytes give a registered table or a one-line
SourceError naming the file; never a traceback, a hang, or a silent misread of the header."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.errors import HealthdqError
from healthdq.sources.base import ReadOptions

FUZZ = settings(
    max_examples=80,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
SLOW_SECONDS = 5.0

# Characters that trip CSV sniffing: delimiters, quotes, line ends, NUL, BOMs, non-ASCII.
CELL = st.text(
    alphabet=st.sampled_from(list("ab1 ,;|\t\"'\r\n\x00é£😀-&") + ["\ufeff"]), max_size=8
)


def _register(path: Path) -> tuple[str, object]:
    engine = DuckDBEngine()
    started = time.perf_counter()
    try:
        table = engine.register("t", str(path), ReadOptions())
        outcome: tuple[str, object] = ("read", table)
    except HealthdqError as exc:
        outcome = ("refused", exc)
    finally:
        engine.close()
    assert time.perf_counter() - started < SLOW_SECONDS
    return outcome


def _one_line(exc: object) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text


@FUZZ
@given(raw=st.binary(max_size=400))
def test_any_bytes_are_read_or_refused_in_one_line(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "any.csv"
    path.write_bytes(raw)
    kind, value = _register(path)
    if kind == "refused":
        _one_line(value)


@FUZZ
@given(
    header=st.lists(
        st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=5, unique=True
    ),
    rows=st.lists(st.lists(CELL, min_size=0, max_size=6), max_size=12),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
)
def test_csv_text_is_read_with_its_header_or_refused(
    tmp_path: Path, header: list[str], rows: list[list[str]], encoding: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    try:
        raw = text.encode(encoding)
    except UnicodeEncodeError:
        raw = text.encode("utf-8")
    path = tmp_path / "t.csv"
    path.write_bytes(raw)
    kind, value = _register(path)
    if kind == "refused":
        _one_line(value)
        return
    # Read: the header is the one written (never a data row taken for it, never mojibake).
    columns = list(value.columns)
    assert columns[: len(header)] == header
