"""Bad input raises HealthdqError with the CLI's one-line message; nothing is audited or written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from api_data import COLUMNS, CONTRACT, audit_events

import healthdq
from healthdq import HealthdqError

Cli = Callable[..., tuple[int, str, str]]


def _cli_message(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("healthdq: error:")]
    assert len(lines) == 1, err
    return lines[0].removeprefix("healthdq: error:").strip()


@pytest.mark.parametrize(
    "case",
    ["missing-file", "bad-contract", "bad-run-date", "bad-sample-size", "unknown-pack"],
)
def test_errors_carry_the_cli_message(
    case: str, cli: Cli, tmp_path: Path, contract_file: Path, csv_file: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntables:\n  t:\n    rules:\n      - {id: a, kind: nope}\n")
    args: dict[str, tuple[list[Any], dict[str, Any]]] = {
        "missing-file": ([tmp_path / "nope.csv", "-c", contract_file], {"contract": contract_file}),
        "bad-contract": ([csv_file, "-c", bad], {"contract": bad}),
        "bad-run-date": (
            [csv_file, "-c", contract_file, "--run-date", "31/01/2025"],
            {"contract": contract_file, "run_date": "31/01/2025"},
        ),
        "bad-sample-size": (
            [csv_file, "-c", contract_file, "--sample-size", "-1"],
            {"contract": contract_file, "sample_size": -1},
        ),
        "unknown-pack": ([csv_file, "-p", "nhs-nope"], {"pack": "nhs-nope"}),
    }
    cli_args, api_kwargs = args[case]
    code, _, err = cli("check", *cli_args)
    assert code == 2
    data = tmp_path / "nope.csv" if case == "missing-file" else csv_file
    with pytest.raises(HealthdqError) as raised:
        healthdq.check(data, **api_kwargs)
    assert raised.value.one_line() == _cli_message(err)
    assert str(raised.value) == raised.value.one_line()
    assert audit_events(tmp_path) == []


def test_contract_or_pack_exactly_one(csv_file: Path) -> None:
    for kwargs in ({}, {"pack": "nhs-apc", "contract": CONTRACT}):
        with pytest.raises(HealthdqError, match="exactly one of contract= or pack="):
            healthdq.check(csv_file, **kwargs)


def test_data_must_be_a_path_or_a_frame() -> None:
    with pytest.raises(HealthdqError, match="got list"):
        healthdq.check([1, 2, 3], contract=CONTRACT)


def test_multi_table_contract_needs_a_mapping(csv_file: Path) -> None:
    two = CONTRACT + "  other:\n    rules: []\n"
    with pytest.raises(HealthdqError, match="tables people, other: give data as"):
        healthdq.check(csv_file, contract=two)
    with pytest.raises(HealthdqError, match="'nope': this contract has tables"):
        healthdq.check({"nope": csv_file}, contract=two)


def test_unknown_output_fails_before_the_run(tmp_path: Path, csv_file: Path) -> None:
    with pytest.raises(HealthdqError, match="unknown output 'pdf'"):
        healthdq.check(csv_file, contract=CONTRACT, outputs={"pdf": tmp_path / "r.pdf"})
    assert audit_events(tmp_path) == []


def test_a_frame_on_the_spark_engine_is_refused() -> None:
    import pyarrow as pa

    with pytest.raises(HealthdqError, match="pyarrow Table is checked on the duckdb engine"):
        healthdq.check(pa.table(COLUMNS), contract=CONTRACT, engine="spark")


def test_omop_takes_a_location_not_a_frame() -> None:
    import pyarrow as pa

    with pytest.raises(HealthdqError, match="not a pyarrow Table"):
        healthdq.omop(pa.table(COLUMNS))  # type: ignore[arg-type]


# -- unsupported column types: one line naming the column, nothing audited -------------------
def _complex_pandas() -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({**COLUMNS, "z": [1 + 2j, 2j, 3j, 4j]})


def _dict_pandas() -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({**COLUMNS, "meta": [{"k": 1}, None, {"k": 2}, {"k": 3}]})


def _complex_objects_pandas() -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({**COLUMNS, "z": pd.Series([1 + 2j, None, 3j, 4j], dtype=object)})


def _list_arrow() -> Any:
    import pyarrow as pa

    return pa.table({**COLUMNS, "codes": [[1], [2, 3], None, []]})


def _struct_polars() -> Any:
    pl = pytest.importorskip("polars")
    return pl.DataFrame(COLUMNS).with_columns(pl.struct(["sex", "age"]).alias("pair"))


@pytest.mark.parametrize(
    ("make", "column"),
    [
        (_complex_pandas, "z"),
        (_dict_pandas, "meta"),
        (_complex_objects_pandas, "z"),
        (_list_arrow, "codes"),
        (_struct_polars, "pair"),
    ],
)
def test_unsupported_column_types_name_the_column(
    make: Callable[[], Any], column: str, tmp_path: Path
) -> None:
    frame = make()
    with pytest.raises(HealthdqError) as raised:
        healthdq.check(frame, contract=CONTRACT)
    message = raised.value.one_line()
    assert f"column '{column}' of the " in message and "cannot check" in message
    assert "\n" not in str(raised.value)
    assert audit_events(tmp_path) == []
    with pytest.raises(HealthdqError, match=f"column '{column}'"):
        healthdq.profile(frame)


def test_object_columns_of_text_numbers_and_dates_are_read() -> None:
    pd = pytest.importorskip("pandas")
    import datetime as dt
    from decimal import Decimal

    frame = pd.DataFrame(
        {
            **COLUMNS,
            "mixed": pd.Series(["a", 1, 2.5, None], dtype=object),
            "when": pd.Series([dt.date(2020, 1, 1), None, pd.NaT, dt.date(2021, 1, 1)]),
            "amount": pd.Series([Decimal("1.5"), None, float("nan"), Decimal("2")], dtype=object),
        }
    )
    result = healthdq.check(frame, contract=CONTRACT)
    assert {c.name for c in result.tables[0].columns} >= {"mixed", "when", "amount"}


def test_object_column_of_arrays_is_refused() -> None:
    pd = pytest.importorskip("pandas")
    import numpy as np

    frame = pd.DataFrame({**COLUMNS, "vec": [np.arange(2), None, np.arange(3), np.arange(1)]})
    with pytest.raises(HealthdqError, match="column 'vec' .* object \\(ndarray values\\)"):
        healthdq.check(frame, contract=CONTRACT)
