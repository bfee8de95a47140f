"""Spark engine specifics: row numbers, csv strictness and typing, mapping, ANSI-proof casts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthdq.engine.runner import RunOptions, run_contract
from healthdq.errors import SourceError
from healthdq.rules.loader import load_contract
from healthdq.sources.base import ReadOptions


@pytest.fixture
def small_splits(spark: Any) -> Iterator[None]:
    """Force many input splits per file, so row numbering crosses partitions."""
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key)
    spark.conf.set(key, "2048")
    yield
    spark.conf.set(key, before)


def test_csv_row_numbers_are_consecutive_across_splits(
    write: Any, spark_engine: Any, small_splits: None
) -> None:
    lines = ["n,code"] + [f"{i},C{i:05d}" for i in range(1, 3001)]
    path = write("many.csv", "\n".join(lines) + "\n")
    table = spark_engine.register("many", str(path), ReadOptions())
    assert table.rows == 3000
    rows = spark_engine.fetch("SELECT `__row`, n FROM many")
    assert len(rows) == 3000
    # __row is the data line number and n was written in line order.
    assert all(int(n) == r for r, n in rows)
    assert sorted(r for r, _ in rows) == list(range(1, 3001))


def test_csv_several_files_number_on_from_file_to_file(
    write: Any, spark_engine: Any, small_splits: None
) -> None:
    for part, start in (("a", 1), ("b", 501)):
        body = [f"{i}" for i in range(start, start + 500)]
        write(f"parts/{part}.csv", "\n".join(["n", *body]) + "\n")
    table = spark_engine.register(
        "parts", str(Path(write("x", "").parent) / "parts"), ReadOptions()
    )
    rows = spark_engine.fetch("SELECT `__row`, n FROM parts")
    assert table.rows == 1000
    assert all(int(n) == r for r, n in rows)


def test_ragged_csv_is_an_error_with_its_line(write: Any, spark_engine: Any) -> None:
    path = write("ragged.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.raises(SourceError) as info:
        spark_engine.register("ragged", str(path), ReadOptions())
    assert info.value.line == 3
    assert "expected 3 columns, found 2" in str(info.value)


def test_csv_types_dates_and_decimals_but_codes_stay_text(write: Any, spark_engine: Any) -> None:
    path = write(
        "typed.csv",
        "code,when,amount,flag,mixed\n01,2025-01-02,1.5,true,2025-01-01\n02,2025-02-30,2,false,x\n",
    )
    table = spark_engine.register("typed", str(path), ReadOptions())
    # 2025-02-30 is no date: that column stays text, like DuckDB's all-values-convert rule.
    assert table.columns == {
        "code": "VARCHAR",
        "when": "VARCHAR",
        "amount": "DOUBLE",
        "flag": "BOOLEAN",
        "mixed": "VARCHAR",
    }
    assert spark_engine.fetch("SELECT code FROM typed ORDER BY `__row`") == [("01",), ("02",)]


def test_parquet_row_numbers_and_mapping(tmp_path: Path, spark_engine: Any) -> None:
    import duckdb

    path = tmp_path / "m.parquet"
    duckdb.execute(
        f"COPY (SELECT 'P' || i AS pid FROM range(1, 11) t(i)) TO '{path}' (FORMAT parquet)"
    )
    table = spark_engine.register("mapped", str(path), ReadOptions(mapping={"patient": "pid"}))
    assert list(table.columns) == ["patient"]
    rows = spark_engine.fetch("SELECT `__row`, patient FROM mapped ORDER BY `__row`")
    assert rows[0] == (1, "P1") and rows[-1] == (10, "P10")


def test_json_array_file_keeps_field_order(write: Any, spark_engine: Any) -> None:
    path = write("arr.json", json.dumps([{"z": "1", "a": "2"}, {"z": "3", "a": "4"}]))
    table = spark_engine.register("arr", str(path), ReadOptions())
    assert table.rows == 2
    assert set(table.columns) == {"z", "a"}
    ndjson = write("lines.ndjson", '{"z": "1", "a": "2025-01-01"}\n{"z": "3", "a": null}\n')
    table = spark_engine.register("lines", str(ndjson), ReadOptions())
    assert table.columns == {"z": "VARCHAR", "a": "DATE"}


def test_results_do_not_depend_on_ansi_mode(write: Any, spark: Any, spark_engine: Any) -> None:
    """Under ANSI mode (Spark 4's default) a plain CAST of 'abc' raises: we render TRY_CAST."""
    data = write("t.csv", "id,age,seen\n1,42,20250101\n2,abc,2025-13-01\n3,7,20240229\n")
    contract_file = write(
        "c.yaml",
        """
name: ansi
tables:
  t:
    rules:
      - {id: age_range, kind: range, column: age, min: 0, max: 120}
      - {id: age_int, kind: type, column: age, type: integer}
      - {id: seen_date, kind: type, column: seen, type: date, format: '%Y%m%d'}
""",
    )
    contract = load_contract(contract_file)
    before = spark.conf.get("spark.sql.ansi.enabled")
    try:
        spark.conf.set("spark.sql.ansi.enabled", "true")
        result = run_contract(spark_engine, contract, {"t": str(data)}, None, RunOptions())
    finally:
        spark.conf.set("spark.sql.ansi.enabled", before)
    counts = {r.rule_id: (r.status, r.violating_rows) for r in result.rules}
    assert counts == {
        "age_range": ("failed", 1),
        "age_int": ("failed", 1),
        "seen_date": ("failed", 1),
    }


def test_sample_without_bounded_min_by(write: Any, spark_engine: Any) -> None:
    """Spark 3.5 has no min_by(x, y, n): the collect-and-slice form gives the same samples."""
    data = write("s.csv", "id,k\n,1\nx,2\n,3\n,4\ny,5\n,6\n")
    contract_file = write(
        "c.yaml",
        "name: s\ntables:\n  s:\n    rules:\n"
        "      - {id: id_present, kind: not_null, column: id}\n",
    )
    contract = load_contract(contract_file)
    results = []
    supported = spark_engine._bounded_min_by  # False on Spark 3.5: both runs use the fallback
    for bounded in (supported, False):
        spark_engine._bounded_min_by = bounded
        try:
            result = run_contract(
                spark_engine, contract, {"s": str(data)}, None, RunOptions(sample_size=3)
            )
        finally:
            spark_engine._bounded_min_by = supported
        results.append([s.row for s in result.rules[0].samples])
    assert results[0] == results[1] == [1, 3, 4]


def test_cli_check_with_spark_engine(cli: Any, write: Any, spark: Any) -> None:
    data = write("t.csv", "id,code\n1,A\n2,\n3,B\n")
    contract_file = write(
        "c.yaml",
        "name: c\ntables:\n  t:\n    rules:\n"
        "      - {id: code_present, kind: not_null, column: code}\n",
    )
    out_json = Path(str(data)).parent / "r.json"
    code, _, err = cli(
        "check",
        str(data),
        "--contract",
        str(contract_file),
        "--engine",
        "spark",
        "--json",
        str(out_json),
        "--quiet",
    )
    assert code == 1, err
    result = json.loads(out_json.read_text())
    assert result["engine"] == "spark"
    assert result["rules"][0]["violating_rows"] == 1
    # The CLI reused the running session and left it running.
    assert spark.sql("SELECT 1").collect()[0][0] == 1


def test_cli_rejects_unknown_engine(cli: Any, write: Any) -> None:
    data = write("t.csv", "id\n1\n")
    code, _, err = cli("check", str(data), "--pack", "nhs-apc", "--engine", "oracle")
    assert code == 2
    assert "--engine must be duckdb or spark" in err


def test_catalog_table_or_view_is_checked_in_place(spark: Any, spark_engine: Any) -> None:
    """On a cluster the data is often a catalog table: `format='table'` reads it by name."""
    spark.createDataFrame([("a",), (None,), ("c",)], "code string").createOrReplaceTempView(
        "existing_view"
    )
    table = spark_engine.register("from_view", "existing_view", ReadOptions(format="table"))
    assert table.rows == 3
    assert table.columns == {"code": "VARCHAR"}
    rows = spark_engine.fetch("SELECT `__row`, code FROM from_view ORDER BY `__row`")
    assert [r for r, _ in rows] == [1, 2, 3]


def test_unreadable_sources_are_source_errors(write: Any, spark_engine: Any) -> None:
    bad = write("bad.parquet", b"not a parquet file at all")
    with pytest.raises(SourceError):
        spark_engine.register("bad", str(bad), ReadOptions())
    with pytest.raises(SourceError):
        spark_engine.register("nope", "no_such_table", ReadOptions(format="table"))


def test_csv_encodings_read_as_on_duckdb(write: Any, spark_engine: Any) -> None:
    """Legacy extracts arrive as latin-1 or UTF-16: detected as the DuckDB reader does."""
    import codecs

    latin = write("latin.csv", "name,code\nJos\u00e9,01\n".encode("latin-1"))
    table = spark_engine.register("latin", str(latin), ReadOptions())
    assert any("read as latin-1" in w for w in table.warnings)
    assert spark_engine.fetch("SELECT name, code FROM latin") == [("Jos\u00e9", "01")]
    utf16 = write(
        "utf16.csv", codecs.BOM_UTF16_LE + "name,code\r\nA\u00e9,01\r\nB,02\r\n".encode("utf-16-le")
    )
    spark_engine.register("utf16", str(utf16), ReadOptions())
    rows = spark_engine.fetch("SELECT `__row`, name, code FROM utf16 ORDER BY `__row`")
    assert rows == [(1, "A\u00e9", "01"), (2, "B", "02")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_detected(write: Any, spark_engine: Any, encoding: str) -> None:
    path = write(f"{encoding}.csv", "name,code\nA\u00e9,01\nB,02\n".encode(encoding))
    spark_engine.register("nobom", str(path), ReadOptions())
    rows = spark_engine.fetch("SELECT `__row`, name, code FROM nobom ORDER BY `__row`")
    assert rows == [(1, "A\u00e9", "01"), (2, "B", "02")]


def test_gzip_and_zstd_csv_are_read_and_a_misnamed_one_refused(
    write: Any, spark_engine: Any
) -> None:
    import gzip

    body = gzip.compress(b"name,code\nA,01\nB,02\n")
    spark_engine.register("gz", str(write("x.csv.gz", body)), ReadOptions())
    assert spark_engine.fetch("SELECT code FROM gz ORDER BY `__row`") == [("01",), ("02",)]
    with pytest.raises(SourceError, match="gzip-compressed but not named"):
        spark_engine.register("gz2", str(write("y.csv", body)), ReadOptions())
    import zstandard

    zst = zstandard.ZstdCompressor().compress(b"name,code\nA,01\n")
    spark_engine.register("zst", str(write("x.csv.zst", zst)), ReadOptions())
    assert spark_engine.fetch("SELECT code FROM zst") == [("01",)]


def test_csv_folder_with_different_columns_refused_or_unioned(
    write: Any, spark_engine: Any
) -> None:
    write("mixed/a.csv", "id,code\n1,x\n2,y\n")
    folder = write("mixed/b.csv", "code,id,extra\nz,3,e\n").parent
    with pytest.raises(SourceError) as info:
        spark_engine.register("mixed", str(folder), ReadOptions())
    assert "b.csv" in str(info.value) and "a.csv" in str(info.value)
    table = spark_engine.register("mixed", str(folder), ReadOptions(union_by_name=True))
    assert list(table.columns) == ["id", "code", "extra"]
    rows = spark_engine.fetch("SELECT `__row`, id, code, extra FROM mixed ORDER BY `__row`")
    assert rows == [(1, "1", "x", None), (2, "2", "y", None), (3, "3", "z", "e")]


def test_parquet_folder_with_different_schemas_names_both(
    tmp_path: Path, spark_engine: Any
) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS id) TO '{tmp_path / 'p1.parquet'}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT 2 AS id, 'x' AS e) TO '{tmp_path / 'p2.parquet'}' (FORMAT parquet)")
    with pytest.raises(SourceError) as info:
        spark_engine.register("pq", str(tmp_path), ReadOptions())
    assert "p2.parquet: schema differs from" in str(info.value)
    assert "p1.parquet" in str(info.value)
    table = spark_engine.register("pq", str(tmp_path), ReadOptions(union_by_name=True))
    assert table.rows == 2 and set(table.columns) == {"id", "e"}


def test_zip_of_csvs_registers_as_folder_tables(tmp_path: Path, spark_engine: Any) -> None:
    import zipfile

    from healthdq.sources.folder import register_folder

    archive = tmp_path / "cdm.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("person.csv", "person_id,year_of_birth\n1,1980\n2,1990\n")
        zf.writestr("death.csv", "person_id,death_date\n2,2020-01-01\n")
    folder = register_folder(spark_engine, str(archive))
    assert sorted(folder.tables) == ["death", "person"]
    assert folder.tables["person"].rows == 2
    assert folder.tables["person"].columns["year_of_birth"] == "BIGINT"


def test_spark_refuses_contract_escapes_and_seals_sql_on_files(
    write: Any, spark: Any, spark_engine: Any
) -> None:
    """The contract sandbox is engine-neutral; after sources register, no SQL reads a path."""
    from healthdq.rules import model as m

    secret = write("secret.txt", "healthdq-secret-line\n")
    data = write("t.csv", "id,sex\n1,1\n2,2\n")
    contract = m.Contract.model_validate(
        {
            "name": "t",
            "tables": {
                "t": {
                    "rules": [
                        {
                            "id": "leak",
                            "kind": "sql",
                            "predicate": f"CAST((SELECT * FROM text.`{secret}`) AS INT) > 0",
                        },
                        {"id": "fn", "kind": "sql", "predicate": "reflect('x', 'y') IS NULL"},
                        {"id": "ok", "kind": "not_null", "column": "sex"},
                    ]
                }
            },
        }
    )
    result = run_contract(spark_engine, contract, {"t": str(data)}, None, RunOptions())
    got = {r.rule_id: r for r in result.rules}
    assert got["leak"].status == "error" and got["fn"].status == "error"
    assert "not allowed" in (got["fn"].message or "")
    assert got["ok"].status == "passed"
    assert "healthdq-secret-line" not in result.model_dump_json()
    assert spark.conf.get("spark.sql.runSQLOnFiles") == "false"
    with pytest.raises(Exception):  # noqa: B017  (Spark's AnalysisException)
        spark.sql(f"SELECT * FROM text.`{secret}`").collect()
