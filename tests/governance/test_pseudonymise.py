"""healthdq pseudonymise on DuckDB: every method, linkage across tables and runs, unlinkability
across keys, per-patient date shifts, the audit entry, and config errors naming file:line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from healthdq import pipeline
from healthdq.errors import ContractError, HealthdqError
from healthdq.governance.audit import content_hash, open_log
from healthdq.governance.pseudonymise import PseudonymKey, load_config, parse_config

from .pseudo_data import KEY_TEXT, OTHER_KEY_TEXT, PATIENTS, write_dataset


def _run(files: dict[str, Path], out: Path, key: str = "key", **kw: Any) -> Any:
    settings = pipeline.Settings(audit_log=out.parent / "audit.jsonl")
    sources = kw.pop("sources", {"apc": str(files["apc"]), "ae": str(files["ae"])})
    return pipeline.pseudonymise(
        sources,
        load_config(files["config"]),
        out,
        key_file=files[key],
        settings=settings,
        **kw,
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    rel = duckdb.sql(f"SELECT * FROM '{path}'")
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_dataset(tmp_path / "in")


@pytest.fixture
def done(
    files: dict[str, Path], tmp_path: Path
) -> tuple[Any, list[dict[str, Any]], list[dict[str, Any]]]:
    result = _run(files, tmp_path / "out")
    return result, _rows(tmp_path / "out" / "apc.parquet"), _rows(tmp_path / "out" / "ae.parquet")


def test_tokens_are_keyed_hmac_of_the_normalised_nhs_number(done: Any) -> None:
    result, apc, _ = done
    key = PseudonymKey(KEY_TEXT.encode())
    # Written as 10 digits, 3-3-4 with spaces and with dashes: one token per patient.
    assert [r["nhs_number"] for r in apc[: len(PATIENTS)]] == [key.token(p) for p in PATIENTS]
    assert apc[-1]["nhs_number"] is None  # no number: no token (never the token of '')
    assert result.key_id == key.key_id
    assert apc[0]["episode_id"] == key.token("E0000")


def test_same_key_links_across_tables_and_runs_another_key_does_not(
    files: dict[str, Path], tmp_path: Path, done: Any
) -> None:
    _, apc, ae = done
    assert {r["nhs_number"] for r in ae} <= {r["nhs_number"] for r in apc}
    _run(files, tmp_path / "again")
    assert _rows(tmp_path / "again" / "apc.parquet") == apc
    _run(files, tmp_path / "other", key="other")
    other = _rows(tmp_path / "other" / "apc.parquet")
    assert not {r["nhs_number"] for r in other} & {r["nhs_number"] for r in apc} - {None}
    assert other[0]["nhs_number"] == PseudonymKey(OTHER_KEY_TEXT.encode()).token(PATIENTS[0])


def test_generalisations(done: Any) -> None:
    _, apc, _ = done
    first = apc[0]  # born 1950-01-10, LS1 4AP, discharged 2024-01-20, los 0
    assert first["date_of_birth"] == "75-79"  # 75 at 2025-03-31
    assert first["postcode"] == "LS1"
    assert first["discharge_date"] == "2024-01"
    assert [r["postcode"] for r in apc[:7]] == ["LS1", "SW1A", "M1", "B33", "CR2", "DN55", "ZZ99"]
    assert [r["los"] for r in apc[4:8]] == ["28", "35", "40", "40"]  # top-coded at 40, text kept
    assert first["sex"] == "1"


def test_redact_text_removes_pattern_identifiers(done: Any) -> None:
    _, apc, _ = done
    note = apc[1]["notes"]
    assert note == "Seen by Dr [NAME]; call [PHONE] or mail [EMAIL] re [NHS_NUMBER]"


def test_date_shift_is_per_patient_consistent_and_bounded(
    done: Any, files: dict[str, Path]
) -> None:
    _, apc, ae = done
    raw = _rows(files["apc"])
    shifts = {}
    for before, after in zip(raw[: len(PATIENTS)], apc, strict=False):
        shifts[after["nhs_number"]] = (after["admission_date"] - before["admission_date"]).days
    assert all(-180 <= s <= 180 for s in shifts.values())
    key = PseudonymKey(KEY_TEXT.encode())
    assert shifts == {key.token(p): key.shift(p, 180) for p in PATIENTS}
    assert len(set(shifts.values())) > 3  # offsets differ between patients
    raw_ae = _rows(files["ae"])
    for before, after in zip(raw_ae, ae, strict=True):
        # Same patient, another table: the same offset.
        assert (after["arrival_date"] - before["arrival_date"]).days == shifts[after["nhs_number"]]
    assert apc[-1]["admission_date"] is None  # no patient number: no consistent shift


def test_age_at_year_sector_keep_drop_and_rename(files: dict[str, Path], tmp_path: Path) -> None:
    files["config"].write_text(
        "default: drop\n"
        "columns:\n"
        "  nhs_number: token\n"
        "  date_of_birth: {method: 'age_at:admission_date', as: age_on_admission}\n"
        "  admission_date: year\n"
        "  postcode: postcode_sector\n",
        encoding="utf-8",
    )
    out = tmp_path / "one.csv"
    _run(files, out, sources={"apc": str(files["apc"])})
    rows = _rows(out)
    assert list(rows[0]) == ["nhs_number", "age_on_admission", "postcode", "admission_date"]
    assert rows[0]["age_on_admission"] == 73  # 1950-01-10 to 2024-01-01
    assert rows[0]["admission_date"] == 2024
    assert [r["postcode"] for r in rows[:3]] == ["LS1 4", "SW1A 1", "M1 1"]


def test_audit_entry_hashes_inputs_config_and_outputs(
    done: Any, files: dict[str, Path], tmp_path: Path
) -> None:
    result, _, _ = done
    log = open_log(tmp_path / "out" / ".." / "audit.jsonl")
    event = log.events()[-1]
    assert event["action"] == "pseudonymise"
    assert event["hash"] == result.audit.head
    detail = event["detail"]
    assert detail["config"]["sha256"] == content_hash(files["config"])
    assert {i["table"]: list(i["files"].values()) for i in detail["inputs"]} == {
        "apc": [content_hash(files["apc"])],
        "ae": [content_hash(files["ae"])],
    }
    outs = {o["table"]: o for o in detail["outputs"]}
    assert outs["apc"]["sha256"] == content_hash(tmp_path / "out" / "apc.parquet")
    assert outs["apc"]["rows"] == len(PATIENTS) + 1
    assert detail["linkage_id"] == result.key_id
    assert KEY_TEXT not in json.dumps(event)
    assert log.verify().ok


def test_a_column_without_a_method_is_refused_before_anything_is_written(
    files: dict[str, Path], tmp_path: Path
) -> None:
    files["config"].write_text("columns:\n  nhs_number: token\n", encoding="utf-8")
    with pytest.raises(ContractError) as caught:
        _run(files, tmp_path / "out")
    assert "column 'episode_id' has no method" in caught.value.one_line()
    assert str(files["config"]) in caught.value.one_line()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("columns:\n  a: token\n  b: scramble\n", 3, "unknown method 'scramble'"),
        ("columns:\n  a: top_code\n", 2, "needs an argument"),
        ("columns:\n  a: top_code:many\n", 2, "must be a number"),
        ("columns:\n  a: keep\ndefault: maybe\n", 3, "default must be error, drop or keep"),
        ("columns: [a, b]\n", 1, "columns must map"),
        ("colums:\n  a: keep\n", 1, "unknown key 'colums'"),
        ("columns:\n  a: keep\n a: drop\n", 3, "invalid YAML"),
    ],
)
def test_config_errors_name_the_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(ContractError) as caught:
        parse_config(text, "p.yaml")
    assert needle in caught.value.one_line()
    assert caught.value.one_line().startswith(f"p.yaml:{line}:")


def test_date_shift_without_patient_column_and_unknown_age_at_column(
    files: dict[str, Path], tmp_path: Path
) -> None:
    files["config"].write_text(
        "patient: mrn\ndefault: keep\ncolumns:\n  arrival_date: date_shift\n",
        encoding="utf-8",
    )
    with pytest.raises(HealthdqError, match="date_shift needs the patient column"):
        _run(files, tmp_path / "o.parquet", sources={"ae": str(files["ae"])}, opt_out=None)
    files["config"].write_text(
        "default: keep\ncolumns:\n  arrival_date: 'age_at:discharged'\n", encoding="utf-8"
    )
    with pytest.raises(ContractError, match="column 'discharged' not found in table ae"):
        _run(files, tmp_path / "o.parquet", sources={"ae": str(files["ae"])})
    assert not (tmp_path / "o.parquet").exists()


def test_reference_date_defaults_to_the_run_date(files: dict[str, Path], tmp_path: Path) -> None:
    files["config"].write_text(
        "default: drop\ncolumns:\n  date_of_birth: age_band\n", encoding="utf-8"
    )
    out = tmp_path / "a.parquet"
    _run(files, out, sources={"apc": str(files["apc"])}, run_date=date(2000, 1, 1))
    assert _rows(out)[0]["date_of_birth"] == "45-49"
