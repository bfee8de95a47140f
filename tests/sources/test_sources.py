"""Readers: formats, detection, codes kept as text, and clear errors on bad files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from healthdq.errors import SourceError
from healthdq.sources import ReadOptions, register_source

Write = Callable[[str, str | bytes], Path]


def rows(con: duckdb.DuckDBPyConnection, name: str = "t") -> list[tuple[object, ...]]:
    return con.execute(f'SELECT * FROM "{name}" ORDER BY __row').fetchall()


def test_csv_keeps_codes_as_text_and_types_dates(write: Write) -> None:
    path = write("a.csv", "id,code,adm,amount\n1,01,2024-01-02,1.5\n2,02,,2\n")
    con = duckdb.connect()
    table = register_source(con, "t", str(path))
    assert table.columns == {"id": "VARCHAR", "code": "VARCHAR", "adm": "DATE", "amount": "DOUBLE"}
    assert rows(con)[0][:3] == (1, "1", "01")
    assert table.rows == 2


def test_csv_date_column_with_a_bad_value_stays_text(write: Write) -> None:
    lines = ["d"] + ["2024-01-01"] * 50 + ["2024-13-45"]
    path = write("d.csv", "\n".join(lines) + "\n")
    con = duckdb.connect()
    table = register_source(con, "t", str(path))
    assert table.columns == {"d": "VARCHAR"}
    assert table.rows == 51


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a;b\n1;2\n", [(1, "1", "2")]),
        ("a\tb\n1\t2\n", [(1, "1", "2")]),
        ("a|b\n1|2\n", [(1, "1", "2")]),
        ("a,b\r\n1,2\r\n", [(1, "1", "2")]),
        ('"a","b"\n"x,1","he said ""hi"""\n', [(1, "x,1", 'he said "hi"')]),
    ],
)
def test_csv_dialects(write: Write, content: str, expected: list[tuple[object, ...]]) -> None:
    con = duckdb.connect()
    register_source(con, "t", str(write("x.csv", content)))
    assert rows(con) == expected


def test_csv_encodings(write: Write) -> None:
    con = duckdb.connect()
    latin = register_source(con, "t", str(write("l.csv", b"a,b\n1,caf\xe9\n")))
    assert rows(con) == [(1, "1", "café")]
    assert any("not UTF-8" in w for w in latin.warnings)
    utf16 = "a,b\n1,é\n".encode("utf-16")
    register_source(con, "u", str(write("u.csv", utf16)))
    assert rows(con, "u") == [(1, "1", "é")]
    bom = write("b.csv", "\ufeffa,b\n1,2\n")
    assert register_source(con, "b", str(bom)).columns == {"a": "VARCHAR", "b": "VARCHAR"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"a,b,c\n1,2,3\n4,5\n", "a.csv:3: ragged row: expected 3 columns, found 2"),
        (b"a,b,c\n1,2,3\n4,5,6,7\n", "a.csv:3: ragged row: expected 3 columns, found 4"),
        (b"a,a\n1,2\n", "duplicate column name 'a'"),
        (b"a,,c\n1,2,3\n", "header column 2 has no name"),
    ],
)
def test_csv_bad_input_is_one_clear_error(write: Write, content: bytes, message: str) -> None:
    path = write("a.csv", content)
    with pytest.raises(SourceError) as info:
        register_source(duckdb.connect(), "t", str(path))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_utf8_after_the_sniffed_head_names_the_line(write: Write) -> None:
    body = "a,b\n" + "1,x\n" * 300_000
    path = write("late.csv", body.encode() + b"2,caf\xe9\n")
    with pytest.raises(SourceError) as info:
        register_source(duckdb.connect(), "t", str(path))
    assert "late.csv:" in str(info.value) and "UTF-8" in str(info.value)


def test_missing_files_and_patterns(tmp_path: Path) -> None:
    con = duckdb.connect()
    with pytest.raises(SourceError, match="file not found"):
        register_source(con, "t", str(tmp_path / "nope.csv"))
    with pytest.raises(SourceError, match="no files match"):
        register_source(con, "t", str(tmp_path / "*.parquet"))
    with pytest.raises(SourceError, match="folder holds no"):
        register_source(con, "t", str(tmp_path))


def test_corrupt_parquet_is_a_source_error(write: Write) -> None:
    path = write("bad.parquet", b"PAR1 this is not parquet")
    with pytest.raises(SourceError) as info:
        register_source(duckdb.connect(), "t", str(path))
    assert "bad.parquet" in str(info.value)


def test_parquet_folder_glob_json_and_duckdb(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, lpad(i::VARCHAR, 2, '0') AS code FROM range(5) t(i)) "
        f"TO '{tmp_path / 'p1.parquet'}'"
    )
    con.execute(
        f"COPY (SELECT i AS id, 'x' AS code FROM range(3) t(i)) TO '{tmp_path / 'p2.parquet'}'"
    )
    assert register_source(con, "one", str(tmp_path / "p1.parquet")).rows == 5
    assert rows(con, "one")[0] == (1, 0, "00")
    assert register_source(con, "glob", str(tmp_path / "p*.parquet")).rows == 8
    assert register_source(con, "dir", str(tmp_path)).rows == 8

    nd = tmp_path / "j" / "x.ndjson"
    nd.parent.mkdir()
    nd.write_text('{"id": 1, "code": "01"}\n{"id": 2, "code": "02"}\n', encoding="utf-8")
    register_source(con, "js", str(nd))
    assert rows(con, "js") == [(1, 1, "01"), (2, 2, "02")]

    db = tmp_path / "d.duckdb"
    other = duckdb.connect(str(db))
    other.execute("CREATE TABLE apc AS SELECT '01' AS code UNION ALL SELECT '02'")
    other.close()
    table = register_source(con, "apc", str(db))
    assert table.rows == 2
    with pytest.raises(SourceError, match="no table 'missing'"):
        register_source(con, "x", str(db), ReadOptions(table="missing"))


def test_column_mapping_renames_to_pack_names(write: Write) -> None:
    path = write("m.csv", "NHSNO,Sex\n9434765919,1\n")
    con = duckdb.connect()
    table = register_source(
        con, "t", str(path), ReadOptions(mapping={"nhs_number": "NHSNO", "gp": "GPPRAC"})
    )
    assert list(table.columns) == ["nhs_number", "Sex"]
    assert any("GPPRAC" in w for w in table.warnings)
