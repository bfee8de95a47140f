"""DuckDB and Spark give the same results for the shipped packs on the same data.

Same violating counts, denominators, statuses, failing-row samples (row numbers and values),
group breakdowns and DQMI scores: the planner's SQL is shared, only the engine differs.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from healthdq.engine.duckdb import DuckDBEngine
from healthdq.engine.runner import RunOptions, run_contract
from healthdq.results import RunResult
from healthdq.rules.loader import load_contract, load_pack
from healthdq.rules.model import Contract
from healthdq.scoring import score
from healthdq.synth import generate

ROWS = 3_000
RUN_DATE = date(2026, 1, 1)


def _run(engine: Any, contract: Contract, sources: dict[str, str], **kw: Any) -> RunResult:
    options = RunOptions(**{"run_date": RUN_DATE, "group_by": ["provider_code"], **kw})
    result = run_contract(engine, contract, sources, None, options)
    score(result)
    return result


def _duckdb(contract: Contract, sources: dict[str, str], **kw: Any) -> RunResult:
    engine = DuckDBEngine()
    try:
        return _run(engine, contract, sources, **kw)
    finally:
        engine.close()


def _rules(result: RunResult) -> list[tuple[Any, ...]]:
    return [
        (
            r.rule_id,
            r.status,
            r.violating_rows,
            r.denominator,
            r.pct_violating,
            [(s.row, s.values) for s in r.samples],
        )
        for r in result.rules
    ]


def _groups(result: RunResult) -> list[tuple[Any, ...]]:
    # Grouped output comes back in engine order: compare as sets of rows.
    return sorted(
        (g.column, r.group or "", r.rule_id, r.violating_rows, r.denominator, r.suppressed)
        for g in result.groups
        for r in g.rows
    )


def assert_same(duck: RunResult, spark: RunResult) -> None:
    assert _rules(spark) == _rules(duck)
    assert _groups(spark) == _groups(duck)
    assert spark.summary == duck.summary
    assert spark.scores == duck.scores
    assert [(t.name, t.rows, t.columns) for t in spark.tables] == [
        (t.name, t.rows, t.columns) for t in duck.tables
    ]


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("synth")
    out = {kind: folder / f"{kind}.parquet" for kind in ("apc", "ae", "op")}
    for kind, path in out.items():
        generate(kind, ROWS, path, seed=7)
    out["ae.csv"] = folder / "ae.csv"
    generate("ae", ROWS, out["ae.csv"], seed=11)
    out["op.ndjson"] = folder / "op.ndjson"
    generate("op", ROWS, out["op.ndjson"], seed=13)
    return out


@pytest.mark.parametrize("kind", ["apc", "ae", "op"])
def test_pack_results_match_duckdb(kind: str, extracts: dict[str, Path], spark_engine: Any) -> None:
    contract = load_pack(f"nhs-{kind}")
    sources = {next(iter(contract.tables)): str(extracts[kind])}
    duck = _duckdb(contract, sources)
    spark = _run(spark_engine, contract, sources)
    assert duck.summary["failed"] > 0, "the synthetic extract carries seeded defects"
    assert_same(duck, spark)


def test_per_distinct_path_matches_duckdb(extracts: dict[str, Path], spark_engine: Any) -> None:
    contract = load_pack("nhs-apc")
    sources = {"apc": str(extracts["apc"])}
    duck = _duckdb(contract, sources, per_distinct_min_rows=0)
    spark = _run(spark_engine, contract, sources, per_distinct_min_rows=0)
    assert_same(duck, spark)


def test_csv_source_matches_duckdb(extracts: dict[str, Path], spark_engine: Any) -> None:
    contract = load_pack("nhs-ae")
    sources = {"ae": str(extracts["ae.csv"])}
    duck = _duckdb(contract, sources)
    spark = _run(spark_engine, contract, sources)
    # Dates are typed, codes stay text, exactly as the DuckDB csv reader decides.
    types = {c.name: c.type for c in spark.tables[0].columns}
    assert types["date_of_birth"] == "DATE"
    assert types["provider_code"] == "VARCHAR"
    assert_same(duck, spark)


def test_ndjson_source_matches_duckdb(extracts: dict[str, Path], spark_engine: Any) -> None:
    contract = load_pack("nhs-op")
    sources = {"op": str(extracts["op.ndjson"])}
    assert_same(_duckdb(contract, sources), _run(spark_engine, contract, sources))


def test_broken_rules_are_errors_on_both(write: Any, spark_engine: Any) -> None:
    data = write(
        "t.csv",
        "id,code,amount\n1,A,10\n2,B,x\n3,,7\n4,A,2.5\n",
    )
    contract_file = write(
        "c.yaml",
        """
name: broken
tables:
  t:
    rules:
      - {id: missing_column, kind: not_null, column: no_such_column}
      - {id: bad_function, kind: sql, predicate: "length(no_such_column) = 1"}
      - {id: code_present, kind: not_null, column: code}
      - {id: amount_range, kind: range, column: amount, min: 0, max: 9}
      - {id: id_unique, kind: unique, columns: [id]}
""",
    )
    contract = load_contract(contract_file)
    duck = _duckdb(contract, {"t": str(data)})
    spark = _run(spark_engine, contract, {"t": str(data)})
    status = {r.rule_id: r.status for r in spark.rules}
    assert status["missing_column"] == "error"
    assert status["bad_function"] == "error"  # (an unknown function is refused at load now)
    assert status["code_present"] == "failed"
    assert _rules(spark)[2:] == _rules(duck)[2:]
    assert [r.status for r in spark.rules] == [r.status for r in duck.rules]


EVERY_KIND = """
name: every-kind
tables:
  visits:
    group_by: [site]
    rules:
      - {id: v.id_present, kind: not_null, column: visit_id}
      - {id: v.id_unique, kind: unique, columns: [visit_id]}
      - {id: v.pair_unique, kind: unique, columns: [patient_id, visit_date]}
      - {id: v.cost_decimal, kind: type, column: cost, type: decimal}
      - {id: v.stamp_format, kind: type, column: stamp, type: date, format: '%Y%m%d'}
      - {id: v.site_allowed, kind: allowed_values, column: site, values: [A, B, C, D, E]}
      - {id: v.site_regex, kind: regex, column: site, pattern: '[A-Z]'}
      - {id: v.note_length, kind: length, column: note, min: 2, max: 5}
      - {id: v.cost_range, kind: range, column: cost, min: 0, max: 100}
      - {id: v.date_range, kind: date_range, column: visit_date, min: '2020-01-01', max: today}
      - {id: v.default_site, kind: default_value, column: site, values: [X]}
      - {id: v.dates_ordered, kind: compare, left: visit_date, op: '<=', right: discharge_date}
      - {id: v.sql_rule, kind: sql, predicate: "TRY_CAST(cost AS DOUBLE) * 2 < 150"}
      - {id: v.conditional, kind: not_null, column: note, when: "site = 'A'"}
      - {id: v.patient_fk, kind: foreign_key, column: patient_id, ref_table: patients,
         ref_column: patient_id}
      - {id: v.rows, kind: row_count, min: 10}
      - {id: v.fresh, kind: freshness, column: visit_date, max_age_days: 30}
  patients:
    rules:
      - {id: p.nhs_valid, kind: validator, column: nhs_number, validator: nhs_number}
      - {id: p.postcode_valid, kind: validator, column: postcode, validator: postcode}
"""


def test_every_rule_kind_matches_duckdb(write: Any, spark_engine: Any) -> None:
    """All rule kinds, a two-table foreign key and a group breakdown, on csv: same numbers."""
    visits = ["visit_id,patient_id,site,cost,stamp,note,visit_date,discharge_date"]
    for i in range(1, 61):
        visits.append(
            ",".join(
                [
                    "" if i % 17 == 0 else f"V{i % 50:03d}",
                    f"P{i % 13}",
                    "ABCDEX?"[i % 7],
                    "oops" if i % 19 == 0 else f"{(i * 7) % 130}.5",
                    "2025-01-01" if i % 11 == 0 else f"2025{(i % 12) + 1:02d}15",
                    "x" * (i % 8),
                    f"2025-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}",
                    f"2025-{((i + 3) % 12) + 1:02d}-10",
                ]
            )
        )
    patients = ["patient_id,nhs_number,postcode"]
    for i in range(11):
        nhs = "9434765919" if i % 3 else "1234567890"
        patients.append(f"P{i},{nhs},{'LS1 4AP' if i % 4 else 'NOT A CODE'}")
    sources = {
        "visits": str(write("visits.csv", "\n".join(visits) + "\n")),
        "patients": str(write("patients.csv", "\n".join(patients) + "\n")),
    }
    contract = load_contract(write("every.yaml", EVERY_KIND))
    # The contract's own group_by (site) applies when no --group-by is given.
    duck = _duckdb(contract, sources, group_by=[])
    spark = _run(spark_engine, contract, sources, group_by=[])
    assert duck.groups, "a breakdown by site"
    assert {r.status for r in duck.rules} >= {"passed", "failed"}
    assert "error" not in {r.status for r in duck.rules}, [
        (r.rule_id, r.message) for r in duck.rules if r.status == "error"
    ]
    assert_same(duck, spark)


def test_hes_conventions_match_duckdb(tmp_path: Path, spark_engine: Any) -> None:
    """Missing-value markers (padded with spaces and a tab), text dates read by their format
    (MMYYYY) and code eras give the same counts on Spark as on DuckDB."""
    data = tmp_path / "hes.csv"
    data.write_text(
        "id,provider_code,opertn,ethnos,mydob,admidate\n"
        "1,RR8,A011,A,011950,2005-01-05\n"
        "2,RR8,-,4,121999,2005-01-06\n"
        '3,RR8,"-   ",4,132000,1999-01-07\n'
        '4,RR8,"&\t ",X,062030,1999-01-08\n'
        "5,RR8,BAD1,A,&,2005-01-09\n",
        encoding="utf-8",
    )
    contract_file = tmp_path / "c.yaml"
    contract_file.write_text(
        """
name: hes
tables:
  t:
    columns:
      opertn: {missing: ['-', '&']}
      ethnos: {missing: [X]}
      mydob: {missing: ['&']}
    rules:
      - {id: op.nn, kind: not_null, column: opertn}
      - {id: op.valid, kind: validator, column: opertn, validator: opcs4}
      - {id: eth.default, kind: default_value, column: ethnos, values: ['99']}
      - id: eth.era
        kind: code_era
        column: ethnos
        value_set: ethnic_category
        date_column: admidate
      - {id: dob.type, kind: type, column: mydob, type: date}
      - {id: dob.before, kind: compare, left: mydob, op: '<=', right: admidate}
""",
        encoding="utf-8",
    )
    contract = load_contract(contract_file)
    duck = _duckdb(contract, {"t": str(data)})
    spark = _run(spark_engine, contract, {"t": str(data)})
    assert_same(duck, spark)
    got = {r.rule_id: (r.violating_rows, r.denominator) for r in duck.rules}
    assert got["op.nn"] == (3, 5) and got["op.valid"] == (1, 2)
    assert got["eth.era"] == (1, 4) and got["dob.type"] == (1, 4)


def test_composed_datetime_and_placeholder_era_match_duckdb(
    tmp_path: Path, spark_engine: Any
) -> None:
    """A timestamp composed from a date field and a time field (HES A&E ARRIVALDATE +
    ARRIVALTIME), and a code era not judged on a placeholder date, agree on both engines."""
    data = tmp_path / "ae.csv"
    data.write_text(
        "id,ARRIVALDATE,ARRIVALTIME,ethnos\n"
        "1,2019-04-01,14:30,A\n"
        "2,20190402,930,A\n"
        "3,2019-04-03,&,A\n"
        "4,1800-01-01,00:00,A\n"
        "5,1999-01-01,12.00.05,A\n",
        encoding="utf-8",
    )
    contract_file = tmp_path / "c.yaml"
    contract_file.write_text(
        """
name: ae
tables:
  t:
    columns:
      arrival: {parts: {date: [arrivaldate], time: [arrivaltime]}}
    rules:
      - {id: arr.nn, kind: not_null, column: arrival}
      - {id: arr.range, kind: date_range, column: arrival, min: '2000-01-01', max: today}
      - id: eth.era
        kind: code_era
        column: ethnos
        value_set: ethnic_category
        date_column: arrival
""",
        encoding="utf-8",
    )
    contract = load_contract(contract_file)
    duck = _duckdb(contract, {"t": str(data)})
    spark = _run(spark_engine, contract, {"t": str(data)})
    assert_same(duck, spark)
    got = {r.rule_id: (r.violating_rows, r.denominator) for r in duck.rules}
    assert got["arr.nn"] == (1, 5)
    assert got["arr.range"] == (2, 4)  # 1800-01-01 and 1999-01-01
    # Only 1999 judges 'A' out of era: the placeholder 1800-01-01 is no date.
    assert got["eth.era"] == (1, 3)
