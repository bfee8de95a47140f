"""`healthdq check`/`omop` keep every run; `healthdq runs list|show|diff|render` read them back.
Each test runs against the embedded DuckDB file and a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from healthdq.store import open_store

Cli = Callable[..., tuple[int, str, str]]

# Valid NHS numbers, a date of birth and a postcode planted in failing rows.
NHS = ["9434765919", "9434765870", "4010232137"]
DOB = "1950-03-12"
POSTCODE = "LS1 4AP"
CONTRACT = """
name: people
tables:
  people:
    columns:
      nhs_number: {identifier: nhs_number}
      date_of_birth: {identifier: date_of_birth}
      postcode: {identifier: postcode}
    rules:
      - {id: sex.valid, kind: allowed_values, column: sex, values: ['1', '2'], dimension: validity}
      - {id: all.cols, kind: sql, predicate: "sex = '1' AND nhs_number IS NOT NULL",
         columns: [sex, nhs_number, date_of_birth, postcode]}
"""


def _people(tmp_path: Path, sexes: list[str], name: str = "people.csv") -> tuple[Path, Path]:
    rows = ["nhs_number,date_of_birth,postcode,sex"]
    rows += [f"{n},{DOB},{POSTCODE},{s}" for n, s in zip(NHS, sexes, strict=True)]
    data = tmp_path / name
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    contract = tmp_path / "people.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    return data, contract


def _stored_text(location: str) -> str:
    """Everything the store holds for its runs, as text (result JSON and rendered files)."""
    store = open_store(location)
    texts = []
    for run in store.list_runs():
        texts.append(store.load_run(run.run_id).model_dump_json())
        for name in run.outputs:
            texts.append((store.output(run.run_id, name) or b"").decode("utf-8"))
    return "\n".join(texts)


def test_stored_run_re_renders_byte_identical(
    cli: Cli, tmp_path: Path, store_location: str, apc_file: Path
) -> None:
    direct = {k: tmp_path / f"direct.{k}" for k in ("html", "json", "junit")}
    code, _, err = cli(
        "check", apc_file, "--pack", "nhs-apc", "--group-by", "provider_code", "--fail-on",
        "never", "-q", "--store", store_location, "--html", direct["html"],
        "--json", direct["json"], "--junit", direct["junit"],
    )  # fmt: skip
    assert code == 0, err
    again = {k: tmp_path / f"again.{k}" for k in direct}
    code, _, err = cli(
        "runs", "render", "latest", "--store", store_location, "--html", again["html"],
        "--json", again["json"], "--junit", again["junit"],
    )  # fmt: skip
    assert code == 0, err
    for name in direct:
        assert again[name].read_bytes() == direct[name].read_bytes(), name
    # The bytes the run itself rendered are kept too.
    kept = tmp_path / "kept.html"
    code, _, err = cli("runs", "render", "latest", "--store", store_location, "--stored",
                       "--html", kept)  # fmt: skip
    assert code == 0, err
    assert kept.read_bytes() == direct["html"].read_bytes()
    code, out, _ = cli("runs", "show", "latest", "--store", store_location, "--json")
    assert code == 0 and out == direct["json"].read_text(encoding="utf-8")


def test_runs_list_show_and_default_store(cli: Cli, tmp_path: Path, apc_file: Path) -> None:
    # No --store: HEALTHDQ_STORE (pointed into tmp_path by the cli fixture).
    code, _, err = cli("check", apc_file, "--pack", "nhs-apc", "-q", "--dataset", "trust-a")
    assert code == 1, err  # seeded defects fail
    assert (tmp_path / "store" / "runs.duckdb").is_file()
    code, out, err = cli("runs", "list")
    assert code == 0, err
    assert "trust-a" in out and "failed" in out and "check" in out
    code, out, _ = cli("runs", "list", "--json")
    (run,) = json.loads(out)
    assert run["dataset"] == "trust-a" and run["masked"] is True
    code, out, err = cli("runs", "show", run["run_id"][:8])
    assert code == 0, err
    assert run["run_id"] in out and "failing rules:" in out and "masked     yes" in out
    code, _, _ = cli("check", apc_file, "--pack", "nhs-apc", "-q", "--no-store")
    code, out, _ = cli("runs", "list", "--json")
    assert len(json.loads(out)) == 1  # --no-store kept nothing


def test_samples_stored_masked_unless_unmasked(
    cli: Cli, tmp_path: Path, store_location: str
) -> None:
    data, contract = _people(tmp_path, ["1", "X", "X"])
    html = tmp_path / "r.html"
    code, _, err = cli("check", data, "--contract", contract, "--fail-on", "never",
                       "--store", store_location, "--html", html)  # fmt: skip
    assert code == 0, err
    stored = _stored_text(store_location)
    assert "sample" in stored and "**" in stored, "the test needs masked samples"
    assert [s for s in [*NHS, DOB, POSTCODE] if s in stored] == []
    code, _, err = cli("check", data, "--contract", contract, "--fail-on", "never",
                       "--store", store_location, "--unmask")  # fmt: skip
    assert code == 0, err
    latest = open_store(store_location).list_runs()[0]
    assert latest.masked is False
    assert NHS[1] in open_store(store_location).load_run(latest.run_id).model_dump_json()


def test_runs_diff_names_newly_failing_and_fixed(
    cli: Cli, tmp_path: Path, store_location: str
) -> None:
    good, contract = _people(tmp_path, ["1", "1", "2"], "good.csv")
    bad, _ = _people(tmp_path, ["1", "X", "2"], "bad.csv")
    for data in (good, bad):
        code, _, err = cli("check", data, "--contract", contract, "--fail-on", "never", "-q",
                           "--store", store_location)  # fmt: skip
        assert code == 0, err
    code, out, err = cli("runs", "diff", "latest~1", "latest", "--store", store_location)
    assert code == 0, err
    assert "newly failing: 1\n  sex.valid (error): passed -> failed" in out
    assert "fixed: 0" in out
    assert "dqmi.score:" in out  # the score moved
    code, out, _ = cli("runs", "diff", "latest", "latest~1", "--store", store_location, "--json")
    diff = json.loads(out)
    assert [c["rule_id"] for c in diff["fixed"]] == ["sex.valid"] and diff["newly_failing"] == []
    assert any(m["key"] == "violating_rows people rule=sex.valid" and m["before"] == 1.0
               and m["after"] == 0.0 for m in diff["metrics"])  # fmt: skip


def test_bad_store_is_one_line_exit_2_and_nothing_written(
    cli: Cli, tmp_path: Path, apc_file: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    html = tmp_path / "r.html"
    code, out, err = cli("check", apc_file, "--pack", "nhs-apc", "-q", "--html", html,
                         "--store", str(blocker / "runs.duckdb"))  # fmt: skip
    assert code == 2
    assert err.count("\n") == 1 and "cannot create results store" in err
    assert not html.exists()  # refused before the run, not after it
    code, _, err = cli("runs", "list", "--store", str(tmp_path))
    assert code == 2 and "is a directory" in err and err.count("\n") == 1


def test_postgres_errors_are_one_line_exit_2(
    cli: Cli, tmp_path: Path, postgres_url: str, apc_file: Path
) -> None:
    url = f"postgresql://healthdq:pw@/x?host={tmp_path}&port=9"
    code, _, err = cli("runs", "list", "--store", url)
    assert code == 2 and "cannot connect to results store" in err
    assert err.count("\n") == 1 and ":pw@" not in err
    # Wrong schema version: refused before the run.
    open_store(postgres_url).prepare()
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("INSERT INTO schema_version VALUES (7, now(), '9')")
    html = tmp_path / "r.html"
    code, _, err = cli("check", apc_file, "--pack", "nhs-apc", "-q", "--html", html,
                       "--store", postgres_url)  # fmt: skip
    assert code == 2 and "schema version 7" in err and err.count("\n") == 1
    assert not html.exists()


def test_corrupt_stored_run_is_one_line_exit_2(cli: Cli, tmp_path: Path, apc_file: Path) -> None:
    location = str(tmp_path / "s.duckdb")
    code, _, err = cli("check", apc_file, "--pack", "nhs-apc", "-q", "--fail-on", "never",
                       "--store", location)  # fmt: skip
    assert code == 0, err
    import duckdb

    con = duckdb.connect(location)
    con.execute("UPDATE runs SET result = replace(result, '\"rules\"', '\"rulez\"')")
    con.close()
    for args in (["show", "latest"], ["render", "latest", "--json", str(tmp_path / "o.json")]):
        code, _, err = cli("runs", *args, "--store", location)
        assert code == 2 and "is corrupt" in err and err.count("\n") == 1
    assert not (tmp_path / "o.json").exists()


def test_omop_runs_are_stored(
    cli: Cli, tmp_path: Path, store_location: str, make_cdm: Callable[..., Path]
) -> None:
    cdm = make_cdm("csv")
    code, _, err = cli("omop", cdm, "-q", "--store", store_location, "--check",
                       "isRequired", "--json", tmp_path / "r.json")  # fmt: skip
    assert code == 0, err
    (run,) = open_store(store_location).list_runs()
    assert run.verb == "omop" and run.outputs == ["json"] and run.rules > 0
    stored = open_store(store_location).load_run(run.run_id)
    assert json.loads((tmp_path / "r.json").read_text())["run_id"] == stored.run_id


def test_python_api_keeps_runs_and_reports_a_bad_store(
    tmp_path: Path, store_location: str, apc_file: Path
) -> None:
    import healthdq
    from healthdq.errors import HealthdqError

    result = healthdq.check(str(apc_file), pack="nhs-apc", store=store_location, dataset="api")
    healthdq.check(str(apc_file), pack="nhs-apc", store=store_location, keep_run=False)
    (run,) = open_store(store_location).list_runs()
    assert run.run_id == result.run_id and run.dataset == "api"
    assert open_store(store_location).load_run(run.run_id) == result
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(HealthdqError, match="cannot create results store"):
        healthdq.check(str(apc_file), pack="nhs-apc", store=str(blocker / "runs.duckdb"))


@pytest.mark.parametrize("case", ["camel", "snake"])
def test_omop_dqd_json_re_renders_byte_identical(
    cli: Cli, tmp_path: Path, make_cdm: Callable[..., Path], case: str
) -> None:
    direct = tmp_path / "direct.json"
    code, _, err = cli("omop", make_cdm("csv"), "-q", "--dqd-json", direct, "--dqd-case", case)
    assert code == 0, err
    again = tmp_path / "again.json"
    code, _, err = cli("runs", "render", "latest", "--dqd-json", again, "--dqd-case", case)
    assert code == 0, err
    assert again.read_bytes() == direct.read_bytes()
