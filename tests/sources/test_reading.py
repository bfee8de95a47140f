"""The reading layer: encodings, compression, folders and globs, zips, corrupt files, mapping."""

from __future__ import annotations

import codecs
import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import zstandard

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.errors import SourceError
from healthdq.sources import ReadOptions, register_source
from healthdq.sources.folder import register_folder
from healthdq.sources.mapping import map_columns
from healthdq.sources.sniff import compression, detect_encoding

Write = Callable[[str, str | bytes], Path]
TEXT = "id,name\n1,café\n2,Zoë\n"
EXPECTED = [(1, "1", "café"), (2, "2", "Zoë")]


def rows(con: duckdb.DuckDBPyConnection, name: str = "t") -> list[tuple[object, ...]]:
    return con.execute(f'SELECT * FROM "{name}" ORDER BY __row').fetchall()


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
    ],
    ids=["le-no-bom", "be-no-bom", "le-bom", "be-bom"],
)
def test_utf16_with_and_without_bom_reads_the_same(
    write: Write, data: bytes, encoding: str
) -> None:
    path = write("u.csv", data)
    assert detect_encoding(data, str(path))[0] == encoding
    con = duckdb.connect()
    table = register_source(con, "t", str(path))
    assert table.columns == {"id": "VARCHAR", "name": "VARCHAR"}
    assert rows(con) == EXPECTED


def test_nul_bytes_in_no_utf16_pattern_are_refused(write: Write) -> None:
    path = write("bin.csv", b"a,b\n1,\x00\x00\x00\x002\n" + b"\x00" * 40 + b"x" * 200)
    with pytest.raises(SourceError, match="NUL bytes"):
        register_source(duckdb.connect(), "t", str(path))


@pytest.mark.parametrize("name", ["plain-name.csv", "data.csv.gz"])
def test_gzip_csv_is_read_by_its_magic_bytes(write: Write, name: str) -> None:
    path = write(name, gzip.compress(TEXT.encode()))
    assert compression(str(path)) == "gzip"
    con = duckdb.connect()
    register_source(con, "t", str(path))
    assert rows(con) == EXPECTED


@pytest.mark.parametrize("name", ["plain-name.csv", "data.csv.zst"])
def test_zstd_csv_is_read(write: Write, name: str) -> None:
    path = write(name, zstandard.ZstdCompressor().compress(TEXT.encode()))
    con = duckdb.connect()
    register_source(con, "t", str(path))
    assert rows(con) == EXPECTED


def test_gzip_utf16_be_csv_is_decompressed_and_transcoded(write: Write) -> None:
    path = write("x.csv.gz", gzip.compress(TEXT.encode("utf-16-be")))
    con = duckdb.connect()
    register_source(con, "t", str(path))
    assert rows(con) == EXPECTED


def test_other_compression_is_refused_as_compressed(write: Write) -> None:
    path = write("x.csv", b"BZh91AY&SY" + b"\x01" * 50)
    with pytest.raises(SourceError, match="bzip2-compressed") as info:
        register_source(duckdb.connect(), "t", str(path))
    assert "latin-1" not in str(info.value)


def test_csv_files_with_different_columns_are_refused_naming_both(write: Write) -> None:
    write("parts/a.csv", "id,code\n1,x\n")
    write("parts/b.csv", "id,code,extra\n2,y,z\n")
    folder = write("parts/c.csv", "id,code\n3,w\n").parent
    with pytest.raises(SourceError) as info:
        register_source(duckdb.connect(), "t", str(folder))
    message = str(info.value)
    assert "b.csv" in message and "a.csv" in message and "extra extra" in message
    assert "--union-by-name" in message


def test_csv_union_by_name_combines_columns_and_numbers_rows_in_file_order(
    write: Write,
) -> None:
    write("parts/a.csv", "id,code\n1,x\n2,y\n")
    folder = write("parts/b.csv", "code,id,extra\nz,3,e\n").parent
    con = duckdb.connect()
    table = register_source(con, "t", str(folder / "*.csv"), ReadOptions(union_by_name=True))
    assert list(table.columns) == ["id", "code", "extra"]
    assert rows(con) == [(1, "1", "x", None), (2, "2", "y", None), (3, "3", "z", "e")]


def write_parquet(path: Path, select: str) -> None:
    duckdb.connect().execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")


def test_parquet_files_with_different_schemas_are_refused_naming_both(tmp_path: Path) -> None:
    write_parquet(tmp_path / "p1.parquet", "SELECT 1 AS id, 'a' AS code")
    write_parquet(tmp_path / "p2.parquet", "SELECT 2 AS id, 'b' AS code, 'x' AS extra")
    with pytest.raises(SourceError) as info:
        register_source(duckdb.connect(), "t", str(tmp_path))
    message = str(info.value)
    assert "p2.parquet: schema differs from" in message and "p1.parquet" in message
    con = duckdb.connect()
    table = register_source(con, "t", str(tmp_path), ReadOptions(union_by_name=True))
    assert list(table.columns) == ["id", "code", "extra"] and table.rows == 2


def test_parquet_column_type_change_is_a_schema_difference(tmp_path: Path) -> None:
    write_parquet(tmp_path / "p1.parquet", "SELECT 1 AS id")
    write_parquet(tmp_path / "p2.parquet", "SELECT 'x' AS id")
    with pytest.raises(SourceError, match="column types differ"):
        register_source(duckdb.connect(), "t", str(tmp_path))


def corrupt_parquet(path: Path) -> None:
    """A file whose footer reads but whose first page header is garbage (fails mid-scan)."""
    write_parquet(path, "SELECT range AS a, 'x' || range AS b FROM range(1000)")
    data = bytearray(path.read_bytes())
    data[4:20] = b"Z" * 16
    path.write_bytes(bytes(data))


def test_corrupt_parquet_page_names_the_file(
    tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    (tmp_path / "d").mkdir()
    write_parquet(
        tmp_path / "d" / "a.parquet", "SELECT range AS a, 'x' || range AS b FROM range(9)"
    )
    corrupt_parquet(tmp_path / "d" / "b.parquet")
    contract = tmp_path / "c.yaml"
    contract.write_text(
        "name: c\ntables:\n  t:\n    columns:\n      a: {}\n      b: {}\n"
        "    rules:\n      - {id: a_present, kind: not_null, column: a}\n"
        "      - {id: b_present, kind: not_null, column: b}\n",
        encoding="utf-8",
    )
    code, _, err = cli("check", str(tmp_path / "d"), "--contract", str(contract), "-q")
    assert code == 2
    assert "b.parquet: corrupt Parquet file" in err
    assert "Traceback" not in err


def test_zip_of_csvs_is_one_table_or_one_table_per_member(tmp_path: Path) -> None:
    archive = tmp_path / "extract.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("2024/person.csv", "person_id,year_of_birth\n1,1980\n2,1990\n")
        zf.writestr("2024/death.csv", "person_id,death_date\n2,2020-01-01\n")
        zf.writestr("README.txt.bak", "ignored")
    engine = DuckDBEngine()
    try:
        folder = register_folder(engine, str(archive))
        assert sorted(folder.tables) == ["death", "person"]
        assert folder.tables["person"].rows == 2
        assert folder.tables["person"].columns["year_of_birth"] == "BIGINT"
    finally:
        engine.close()
    single = tmp_path / "one.zip"
    with zipfile.ZipFile(single, "w") as zf:
        zf.writestr("part1.csv", "id,code\n1,01\n")
        zf.writestr("part2.csv", "id,code\n2,02\n")
    con = duckdb.connect()
    table = register_source(con, "t", str(single))
    assert rows(con) == [(1, "1", "01"), (2, "2", "02")]
    assert table.source == str(single)


def test_zip_members_never_leave_the_working_folder(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escape.csv", "a\n1\n")
    con = duckdb.connect()
    register_source(con, "t", str(archive))
    assert not (tmp_path.parent / "escape.csv").exists()
    assert rows(con) == [(1, "1")]


def test_not_a_zip_is_one_clear_error(write: Write) -> None:
    with pytest.raises(SourceError, match="not a readable zip"):
        register_source(duckdb.connect(), "t", str(write("x.zip", b"not a zip at all")))


def test_one_mapping_function_renames_lowercases_and_warns() -> None:
    mapped = map_columns(
        ["__row", "NHSNO", "Code", "code"], {"nhs_number": "nhsno", "dob": "DOB"}, "x.csv"
    )
    assert mapped.pairs == [("NHSNO", "nhs_number"), ("Code", "Code"), ("code", "code")]
    assert mapped.warnings == ["mapped column 'DOB' (for 'dob') is not in x.csv"]
    lowered = map_columns(["Code", "code", "X"], {}, "x.csv", lower_case=True)
    assert lowered.pairs == [("Code", "code"), ("X", "x")]


def test_register_folder_skips_unreadable_files_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "person.csv").write_text("person_id\n1\n", encoding="utf-8")
    (tmp_path / "visit.parquet").write_bytes(b"PAR1 broken")
    (tmp_path / "empty.csv").write_bytes(b"")
    engine = DuckDBEngine()
    try:
        folder = register_folder(engine, str(tmp_path))
    finally:
        engine.close()
    assert sorted(folder.tables) == ["empty", "person"]
    assert folder.tables["empty"].columns == {} and folder.tables["empty"].rows == 0
    assert any(w.startswith("visit.parquet: cannot be read") for w in folder.warnings)


def test_gzip_ndjson_is_read_by_its_magic_bytes(write: Write) -> None:
    path = write("x.ndjson", gzip.compress(b'{"id": "01", "n": 1}\n{"id": "02", "n": 2}\n'))
    con = duckdb.connect()
    register_source(con, "t", str(path))
    assert rows(con) == [(1, "01", 1), (2, "02", 2)]


def test_cli_refuses_mismatched_folder_unless_union_by_name(
    write: Write, tmp_path: Path, cli: Callable[..., tuple[int, str, str]]
) -> None:
    write("parts/a.csv", "id,code\n1,x\n")
    folder = write("parts/b.csv", "id,code,extra\n2,y,z\n").parent
    contract = write(
        "c.yaml",
        "name: c\ntables:\n  t:\n    columns:\n      id: {}\n"
        "    rules:\n      - {id: id_present, kind: not_null, column: id}\n",
    )
    code, _, err = cli("check", str(folder), "--contract", str(contract), "-q")
    assert code == 2
    assert "b.csv: columns differ from" in err and "a.csv" in err
    code, _, err = cli(
        "check",
        str(folder),
        "--contract",
        str(contract),
        "-q",
        "--union-by-name",
        "--json",
        str(tmp_path / "r.json"),
    )
    assert code == 0, err
    assert '"rows": 2' in (tmp_path / "r.json").read_text(encoding="utf-8")
    code, out, err = cli("profile", str(folder), "--union-by-name")
    assert code == 0, err
    assert "extra" in out
