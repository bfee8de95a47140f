"""healthdq pseudonymise on FHIR: methods by path, linkage with the tabular path (same token,
same date shift for one NHS number and key), references kept resolvable, output that
`fhir validate` finds no new problem in, opt-out, safety (no key, short key, nothing raw in
any output, log or audit entry) and config errors naming file:line."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from healthdq import pipeline
from healthdq.engine.registry import create_engine
from healthdq.errors import ContractError
from healthdq.fhir.read import read_fhir
from healthdq.fhir.validate import validate_fhir
from healthdq.governance.fhir_pseudonymise import PSEUDONYM_SYSTEM
from healthdq.governance.pseudonymise import PseudonymKey, load_config, parse_config
from healthdq.synth.fhir import generate_fhir

from .pseudo_data import KEY_TEXT, PATIENTS, spaced

NHS = "https://fhir.nhs.uk/Id/nhs-number"
NAMES = ["Zebedee", "Quentinella"]
PHONES = ["07700 900461", "07700 900462"]
POSTCODES = ["LS1 4AP", "SW1A 1AA"]
BIRTHS = ["1961-07-23", "1979-11-02"]
CONFIG = """\
fhir:
  Patient.identifier: token
  Patient.name: drop
  Patient.telecom: drop
  Patient.address: postcode_district
  Patient.birthDate: year
  Patient.deceased: date_shift
  Encounter.period: date_shift
  Observation.effective: date_shift
  Observation.issued: date_shift
  "*.text": drop
"""


def _patient(i: int, pid: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "text": {"status": "generated", "div": f"<div>{NAMES[i]}</div>"},
        "identifier": [
            {"system": NHS, "value": spaced(PATIENTS[i])},
            {"system": "https://example.nhs.uk/mrn", "value": f"MRN{i}77"},
        ],
        "name": [{"family": NAMES[i], "given": ["Ann"]}],
        "telecom": [{"system": "phone", "value": PHONES[i]}],
        "address": [{"line": ["1 Sesame Street"], "city": "Leeds", "postalCode": POSTCODES[i]}],
        "birthDate": BIRTHS[i],
        # The birth time extension on _birthDate goes with the date's method.
        "_birthDate": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                    "valueDateTime": BIRTHS[i] + "T04:05:06Z",
                }
            ]
        },
        **({"deceasedBoolean": False} if i == 0 else {"deceasedDateTime": "2024-07-01T12:00:00Z"}),
    }


def _encounter(eid: str, subject: str, start: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": subject},
        "period": {"start": start, "end": start[:10] + "T23:00:00Z"},
    }


def _observation(oid: str, subject: str, encounter: str, i: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        # A reference's display (a name) and identifier (an NHS number) go too.
        "subject": {"reference": subject, "identifier": {"system": NHS, "value": PATIENTS[i]}},
        "performer": [{"display": f"Dr {NAMES[i]}"}],
        "encounter": {"reference": encounter},
        "effectiveDateTime": "2024-03-05T10:00:00Z",
        "issued": "2024-03-05T11:00:00.000Z",
    }


def write_export(folder: Path) -> Path:
    """NDJSON for patient 0 and a Bundle (urn:uuid references) for patient 1."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = {
        "Patient": [_patient(0, "pat-0")],
        "Encounter": [_encounter("enc-0", "Patient/pat-0", "2024-03-05T09:00:00Z")],
        "Observation": [_observation("obs-0", "Patient/pat-0", "Encounter/enc-0", 0)],
    }
    for rtype, items in lines.items():
        text = "\n".join(json.dumps(r) for r in items) + "\n"
        (folder / f"{rtype}.ndjson").write_text(text, encoding="utf-8")
    u = "urn:uuid:{:08d}-0000-4000-8000-000000000000"
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": u.format(1), "resource": _patient(1, "pat-1")},
            {"fullUrl": u.format(2), "resource": _encounter("enc-1", u.format(1), "2024-06-01")},
            {
                "fullUrl": u.format(3),
                "resource": _observation("obs-1", u.format(1), u.format(2), 1),
            },
        ],
    }
    (folder / "bundle.json").write_text(json.dumps(bundle, indent=2), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The inputs (read only: a test that adds a file copies them first)."""
    tmp_path = tmp_path_factory.mktemp("fhir-pseudo")
    key = tmp_path / "in" / "project.key"
    key.parent.mkdir(parents=True)
    key.write_text(KEY_TEXT + "\n")
    key.chmod(0o600)
    config = tmp_path / "in" / "fhir.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return {"data": write_export(tmp_path / "in" / "export"), "key": key, "config": config}


def _run(setup: dict[str, Path], out: Path, **kw: Any) -> Any:
    settings = pipeline.Settings(audit_log=out.parent / "audit.jsonl")
    return pipeline.pseudonymise(
        {"fhir": str(setup["data"])},
        load_config(kw.pop("config", setup["config"])),
        out,
        key_file=setup["key"],
        settings=settings,
        **kw,
    )


def _resources(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        p.name.removesuffix(".ndjson"): [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted(folder.glob("*.ndjson"))
    }


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> Counter[tuple[Any, ...]]:
    """The validation issues of the input export (the same in every test)."""
    return _issues(write_export(tmp_path_factory.mktemp("before") / "export"))


def _issues(location: Path) -> Counter[tuple[Any, ...]]:
    eng = create_engine("duckdb")
    try:
        read_fhir(eng, str(location), "fhir_resources")
        found = validate_fhir(eng)
    finally:
        eng.close()
    return Counter((i.resource_type, i.kind, i.severity, i.code, i.details) for i in found)


@pytest.fixture(scope="module")
def done(setup: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """One run with CONFIG, shared by the tests that only read its output."""
    out = tmp_path_factory.mktemp("done") / "out"
    return _run(setup, out), out


def test_paths_are_pseudonymised(done: tuple[Any, Path]) -> None:
    result, folder = done
    out = _resources(folder)
    assert sorted(out) == ["Encounter", "Observation", "Patient"]
    assert [t.rows for t in result.tables] == [2, 2, 2]
    key = PseudonymKey(KEY_TEXT.encode())
    by_id = {p["id"]: p for p in out["Patient"]}
    p0 = by_id[key.token("pat-0")]
    assert "name" not in p0 and "telecom" not in p0 and "text" not in p0
    assert p0["address"] == [{"city": "Leeds", "postalCode": "LS1"}]
    assert p0["birthDate"] == "1961" and "_birthDate" not in p0
    assert p0["deceasedBoolean"] is False  # a choice's dateless alternative is kept
    p1 = by_id[key.token("pat-1")]
    moved = date(2024, 7, 1) + timedelta(days=key.shift(PATIENTS[1], 180))
    assert p1["deceasedDateTime"] == f"{moved.isoformat()}T12:00:00Z"
    nhs, mrn = p0["identifier"]
    # The NHS number, written spaced, gets the token of its 10 digits: the tabular token.
    assert nhs == {"system": PSEUDONYM_SYSTEM, "value": key.token(PATIENTS[0])}
    assert mrn == {"system": "https://example.nhs.uk/mrn", "value": key.token("MRN077")}
    assert result.format == "ndjson" and result.key_id == key.key_id


def test_references_resolve_and_bundles_become_ndjson(done: tuple[Any, Path]) -> None:
    out = _resources(done[1])
    key = PseudonymKey(KEY_TEXT.encode())
    ids = {f"{t}/{r['id']}" for t, rs in out.items() for r in rs}
    for rtype in ("Encounter", "Observation"):
        for r in out[rtype]:
            assert r["subject"]["reference"] in ids
    obs = {r["encounter"]["reference"] for r in out["Observation"]}
    assert obs == {f"Encounter/{key.token('enc-0')}", f"Encounter/{key.token('enc-1')}"}
    # urn:uuid references of the Bundle now name the resource: Type/TOKEN.
    assert f"Patient/{key.token('pat-1')}" in {r["subject"]["reference"] for r in out["Encounter"]}
    subject = out["Observation"][0]["subject"]["identifier"]
    assert subject == {"system": PSEUDONYM_SYSTEM, "value": key.token(PATIENTS[0])}
    assert all("performer" not in r for r in out["Observation"])  # display-only: nothing left


def test_a_type_r4_does_not_know_is_written_with_its_id_tokenised(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    odd = {"resourceType": "Widget", "id": "w1", "subject": {"reference": "Patient/pat-0"}}
    data = tmp_path / "export"
    shutil.copytree(setup["data"], data)
    (data / "Widget.ndjson").write_text(json.dumps(odd) + "\n")
    result = _run({**setup, "data": data}, tmp_path / "out")
    key = PseudonymKey(KEY_TEXT.encode())
    widget = _resources(tmp_path / "out")["Widget"]
    assert widget == [
        {
            "resourceType": "Widget",
            "id": key.token("w1"),
            "subject": {"reference": f"Patient/{key.token('pat-0')}"},
        }
    ]
    assert "Widget" in {t.name for t in result.tables}


def test_ids_kept_bundle_references_still_resolve(
    setup: dict[str, Path], tmp_path: Path, before: Counter[tuple[Any, ...]]
) -> None:
    config = tmp_path / "keep.yaml"
    config.write_text(CONFIG + "fhir_ids: keep\nfhir_reference_display: keep\n")
    _run(setup, tmp_path / "out", config=config)
    out = _resources(tmp_path / "out")
    assert sorted(r["id"] for r in out["Patient"]) == ["pat-0", "pat-1"]
    assert sorted(r["subject"]["reference"] for r in out["Encounter"]) == [
        "Patient/pat-0",
        "Patient/pat-1",
    ]
    assert [r["performer"] for r in out["Observation"]] == [
        [{"display": f"Dr {NAMES[0]}"}],
        [{"display": f"Dr {NAMES[1]}"}],
    ]
    assert _issues(tmp_path / "out") - before == Counter()


def test_fhir_validate_finds_no_new_problem(
    done: tuple[Any, Path], before: Counter[tuple[Any, ...]]
) -> None:
    assert _issues(done[1]) - before == Counter()


def test_synthetic_export_validates_as_before(tmp_path: Path, setup: dict[str, Path]) -> None:
    synth = generate_fhir(400, tmp_path / "synth").path
    out = tmp_path / "synth-out"
    result = _run({**setup, "data": synth}, out, config="fhir-default")
    assert sum(t.rows for t in result.tables) == sum(
        len(p.read_text().splitlines()) for p in synth.glob("*.ndjson")
    )
    assert _issues(out) - _issues(synth) == Counter()
    patients = _resources(out)["Patient"]
    assert all(len(p.get("birthDate", "1234")) == 4 for p in patients)
    assert all(i["system"] == PSEUDONYM_SYSTEM for p in patients for i in p.get("identifier", []))


def test_same_token_and_date_shift_as_the_tabular_path(
    setup: dict[str, Path], tmp_path: Path, done: tuple[Any, Path]
) -> None:
    out = _resources(done[1])
    table = tmp_path / "apc.csv"
    table.write_text(
        f"nhs_number,admission_date\n{PATIENTS[0]},2024-03-05\n{spaced(PATIENTS[1])},2024-06-01\n"
    )
    cfg = tmp_path / "tab.yaml"
    cfg.write_text("columns: {nhs_number: token, admission_date: date_shift}\n")
    pipeline.pseudonymise(
        {"apc": str(table)},
        load_config(cfg),
        tmp_path / "apc.parquet",
        key_file=setup["key"],
        settings=pipeline.Settings(audit_log=tmp_path / "audit.jsonl"),
    )
    rows = duckdb.sql(f"SELECT * FROM '{tmp_path / 'apc.parquet'}'").fetchall()
    tokens = {i["value"] for p in out["Patient"] for i in p["identifier"] if i["system"] != NHS}
    assert {r[0] for r in rows} <= tokens
    key = PseudonymKey(KEY_TEXT.encode())
    starts = {r["subject"]["reference"]: r["period"]["start"] for r in out["Encounter"]}
    nhs_of = {f"Patient/{p['id']}": p["identifier"][0]["value"] for p in out["Patient"]}
    shifted = {nhs_of[ref]: start[:10] for ref, start in starts.items()}
    for token, day in rows:
        assert shifted[token] == day.isoformat()
    # The time of day is kept; the shift is the documented one.
    start0 = starts[f"Patient/{key.token('pat-0')}"]
    moved = date(2024, 3, 5) + timedelta(days=key.shift(PATIENTS[0], 180))
    assert start0 == f"{moved.isoformat()}T09:00:00Z"


def test_opt_out_removes_the_patient_and_everything_referring_to_them(
    setup: dict[str, Path], tmp_path: Path, before: Counter[tuple[Any, ...]]
) -> None:
    opt = tmp_path / "optout.txt"
    opt.write_text(f"# opted out\n{spaced(PATIENTS[1])}\n")
    result = _run(setup, tmp_path / "out", opt_out=opt)
    out = _resources(tmp_path / "out")
    key = PseudonymKey(KEY_TEXT.encode())
    assert [p["id"] for p in out["Patient"]] == [key.token("pat-0")]
    assert [e["id"] for e in out["Encounter"]] == [key.token("enc-0")]
    assert [o["id"] for o in out["Observation"]] == [key.token("obs-0")]
    assert {t.name: t.opted_out for t in result.tables} == {
        "Encounter": "*",
        "Observation": "*",
        "Patient": "*",
    }
    assert _issues(tmp_path / "out") - before == Counter()


def test_nothing_raw_in_any_output_log_or_audit(
    setup: dict[str, Path], tmp_path: Path, cli: Any
) -> None:
    code, stdout, stderr = cli(
        "pseudonymise",
        setup["data"],
        "-c",
        setup["config"],
        "--key-file",
        setup["key"],
        "-o",
        tmp_path / "out",
        "--json",
        tmp_path / "out.json",
        "--audit-log",
        tmp_path / "audit.jsonl",
    )
    assert code == 0, stderr
    assert "Patient: 2 resources -> " in stdout
    raw = [KEY_TEXT, *PATIENTS[:2], *(spaced(p) for p in PATIENTS[:2]), *NAMES, *PHONES]
    raw += [*POSTCODES, *BIRTHS, "MRN077", "1 Sesame Street"]
    texts = [stdout, stderr] + [
        p.read_text(errors="replace")
        for p in tmp_path.rglob("*")
        if p.is_file() and "in" not in p.relative_to(tmp_path).parts[:1]
    ]
    for value in raw:
        for text in texts:
            assert value not in text
    event = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()][-1]
    assert event["action"] == "pseudonymise"
    assert event["detail"]["linkage_id"] == PseudonymKey(KEY_TEXT.encode()).key_id
    assert {o["table"] for o in event["detail"]["outputs"]} == {
        "Patient",
        "Encounter",
        "Observation",
    }


def test_no_key_and_short_key_refuse(
    setup: dict[str, Path], tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEALTHDQ_KEY_FILE", raising=False)
    args = ["pseudonymise", setup["data"], "-c", setup["config"], "-o", tmp_path / "out"]
    code, _, err = cli(*args)
    assert code == 2 and "pseudonymise needs a key" in err
    short = tmp_path / "short.key"
    short.write_text("s" * 31)
    code, _, err = cli(*args, "--key-file", short)
    assert code == 2 and "key too short: 31 bytes" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("fhir:\n  Patient.nmae: drop\n", 2, "fhir path 'Patient.nmae': no element 'nmae'"),
        ("fhir:\n  Patient.name: drop\n  Paitent.name: drop\n", 3, "'Paitent' is not a FHIR R4"),
        ("fhir:\n  Patient.name: token\n", 2, "token needs an Identifier or a text element"),
        ("fhir:\n  Patient.birthDate: age_band\n", 2, "method 'age_band' does not apply to FHIR"),
        ("fhir:\n  Observation.issued: month\n", 2, "would not be a valid instant"),
        ("fhir:\n  Patient.gender: scramble\n", 2, "unknown method 'scramble'"),
        ("fhir:\n  Patient: drop\n", 2, "give Type.element"),
    ],
)
def test_bad_config_names_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ContractError) as info:
        parse_config(text, "fhir.yaml")
    assert info.value.line == line and info.value.path == "fhir.yaml"
    assert message in info.value.message


def test_bad_config_exits_2_and_writes_nothing(
    setup: dict[str, Path], tmp_path: Path, cli: Any
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("fhir:\n  Patient.name: drop\n  Encounter.peroid: date_shift\n")
    code, _, err = cli(
        "pseudonymise", setup["data"], "-c", bad, "--key-file", setup["key"], "-o", tmp_path / "o"
    )
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"healthdq: error: {bad}:3: fhir path")
    assert not (tmp_path / "o").exists()


def test_date_shift_days_is_honoured(setup: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "week.yaml"
    config.write_text("date_shift_days: 7\nfhir:\n  Encounter.period: date_shift\n")
    _run(setup, tmp_path / "out", config=config)
    key = PseudonymKey(KEY_TEXT.encode())
    encounter = {e["id"]: e for e in _resources(tmp_path / "out")["Encounter"]}[key.token("enc-0")]
    moved = date(2024, 3, 5) + timedelta(days=key.shift(PATIENTS[0], 7))
    assert encounter["period"]["start"] == f"{moved.isoformat()}T09:00:00Z"


def test_spark_and_a_bad_out_are_refused_before_any_work(
    setup: dict[str, Path], tmp_path: Path, cli: Any
) -> None:
    args = ["pseudonymise", setup["data"], "-c", setup["config"], "--key-file", setup["key"]]
    code, _, err = cli(*args, "-o", tmp_path / "o", "--engine", "spark")
    assert code == 2 and "FHIR pseudonymisation runs on the DuckDB engine" in err
    assert not (tmp_path / "o").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    code, _, err = cli(*args, "-o", busy)
    assert code == 2 and "--out folder holds files other than .ndjson" in err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
