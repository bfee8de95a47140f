# healthdq — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= ../shared
# HEALTHDQ_SHARED (environment) overrides SHARED for the conformance data.
HEALTHDQ_SHARED ?= $(SHARED)
OUT ?= out
DEMO_ROWS ?= 200000

.PHONY: venv demo test lint typecheck unit conformance bench bench-omop clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# pyCANON (tests/risk compare k, l, t with it) pins exact old pandas/numpy/typer releases:
	@# installed without its dependencies, it needs only numpy and pandas (in dev).
	$(PY) -m pip install -q --no-deps 'pycanon==1.3.6'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	mkdir -p $(OUT)
	$(VENV)/bin/healthdq synth apc --rows $(DEMO_ROWS) --seed 42 --out $(OUT)/demo/apc.parquet
	@# The synthetic extract carries seeded defects on purpose: the demo reports them and
	@# succeeds (--fail-on never); --run-date matches the synthetic financial year.
	$(VENV)/bin/healthdq check $(OUT)/demo/apc.parquet --pack nhs-apc --group-by provider_code \
		--run-date 2025-04-30 --html $(OUT)/report.html --json $(OUT)/results.json \
		--junit $(OUT)/junit.xml --fail-on never
	@echo "Report written to $(OUT)/report.html"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test: lint typecheck unit

bench: $(STAMP)
	$(PY) bench/run_bench.py
	$(PY) bench/omop_bench.py
	$(PY) bench/profile_bench.py
	$(PY) bench/freetext_eval.py
	@# SQL-on-FHIR views on 1M synthetic resources beside fhir4ds (the bench extra, GPL-3.0).
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) bench/fhir_view_bench.py
	@# FHIR R4 validation on 1M synthetic resources beside the fhir.resources models.
	$(PY) bench/fhir_validate_bench.py
	$(PY) bench/pseudonymise_bench.py
	$(PY) bench/fhir_pseudonymise_bench.py
	$(PY) bench/risk_bench.py

# OMOP: fused DQD checks vs one query per check on a synthetic CDM (BENCHMARKS.md, OMOP).
bench-omop: $(STAMP)
	$(PY) bench/omop_bench.py

# OMOP CDM v5.4 DQD checks on Eunomia's Synthea CDM: counts per Kahn category.
# DuckDB's DQD results on Eunomia, then the same 2,535 checks on Spark: exit 1 if any differs.
# SQL-on-FHIR v2's official suite (134 cases) on DuckDB and Spark: test reports in $(OUT)/sof,
# exit 1 if a case outside healthdq.fhir.conformance.KNOWN_FAILURES fails.
conformance: $(STAMP)
	$(PY) -m healthdq.omop.conformance --parity \
		"$(HEALTHDQ_SHARED)/conformance/omop/eunomia/Synthea27Nj_5.4.zip" $(OUT)/conformance
	$(PY) -m healthdq.fhir.conformance \
		"$(HEALTHDQ_SHARED)/conformance/sql-on-fhir-v2/tests" $(OUT)/sof
	@# fhir-uk-core on the Synthea sample (US Core): the NHS number, ODS and postcode rules fail on
	@# every resource by design (docs/fhir.md); the run is reported (HTML, JSON, store), not failed.
	$(PY) -m healthdq check "$(HEALTHDQ_SHARED)/conformance/fhir-bulk-10-patients" \
		--pack fhir-uk-core --html $(OUT)/conformance/fhir-uk-core.html \
		--json $(OUT)/conformance/fhir-uk-core.json --fail-on never
	@# R4 structural validation of the same export: OperationOutcome NDJSON, HTML, JSON and the store.
	$(PY) -m healthdq fhir validate "$(HEALTHDQ_SHARED)/conformance/fhir-bulk-10-patients" \
		--outcome $(OUT)/conformance/fhir-validate.outcome.ndjson \
		--html $(OUT)/conformance/fhir-validate.html \
		--json $(OUT)/conformance/fhir-validate.json --fail-on never -q

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache

# Side-by-side with Great Expectations, Soda Core and pandera (bench/peers, BENCHMARKS.md "Peers").
# The peers live in their own venvs under bench/peers; not part of `make test`.
.PHONY: bench-peers
bench-peers: $(STAMP)
	bash bench/peers/setup_venvs.sh
	$(PY) bench/peers/run_peers.py --edge --rows 1000000 10000000 --repeat 3 --per-rule
