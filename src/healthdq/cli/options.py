"""Turning command-line arguments into library inputs: column mappings and table sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from healthdq.errors import ContractError, HealthdqError
from healthdq.pipeline import contract_sources, fhir_view_sources
from healthdq.rules import model as m


def parse_mapping(items: list[str], map_file: Path | None) -> dict[str, str]:
    """--map PACK_COLUMN=YOUR_COLUMN items and a --map-file YAML, as one mapping."""
    mapping: dict[str, str] = {}
    if map_file is not None:
        if not map_file.exists():
            raise ContractError("mapping file not found", path=str(map_file))
        try:
            data = yaml.safe_load(map_file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ContractError(
                "invalid YAML", path=str(map_file), line=mark.line + 1 if mark else None
            ) from None
        if not isinstance(data, dict):
            raise ContractError(
                "mapping must be 'pack_column: your_column' pairs", path=str(map_file)
            )
        mapping.update({str(k): str(v) for k, v in data.items()})
    for item in items:
        if "=" not in item:
            raise HealthdqError(f"--map expects PACK_COLUMN=YOUR_COLUMN, got '{item}'")
        k, v = item.split("=", 1)
        mapping[k.strip()] = v.strip()
    return mapping


def table_sources(contract: m.Contract, data: list[str]) -> dict[str, str]:
    """DATA is a path for a one-table contract, or TABLE=PATH items for several tables."""
    names = list(contract.tables)
    if len(data) == 1 and data[0].partition("=")[0] not in contract.tables:
        # One FHIR location feeds every view table (a FHIR pack such as fhir-uk-core).
        fhir = fhir_view_sources(contract, data[0])
        if fhir:
            return contract_sources(contract, fhir)
    sources: dict[str, str] = {}
    for item in data:
        table, sep, path = item.partition("=")
        if sep and table in contract.tables:
            sources[table] = path
        elif len(names) == 1 and not sources:
            sources[names[0]] = item
        else:
            raise HealthdqError(
                f"'{item}': this contract has tables {', '.join(names)}; give TABLE=PATH"
            )
    return contract_sources(contract, sources)


def outputs(**paths: Path | None) -> dict[str, Path]:
    """Renderer name -> file for the output options that were given (underscores become -)."""
    return {name.replace("_", "-"): path for name, path in paths.items() if path is not None}


# The results store options shared by the verbs that keep runs (check, omop) and `runs`.
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Results store: a DuckDB file or postgresql:// URL "
        "(default: $HEALTHDQ_STORE, else .healthdq/runs.duckdb).",
        metavar="PATH|URL",
    ),
]
NoStoreOption = Annotated[
    bool, typer.Option("--no-store", help="Do not keep this run in the results store.")
]
DatasetOption = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help="Name for this data in the store's history (default: the contract's name).",
        metavar="NAME",
    ),
]
AuditLogOption = Annotated[Path | None, typer.Option(help="Audit log of patient-level access.")]
AuditKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        help="Key (32+ bytes) for the audit chain (default: $HEALTHDQ_AUDIT_KEY_FILE).",
        metavar="FILE",
    ),
]
EngineOption = Annotated[
    str, typer.Option("--engine", help="duckdb (in-process) or spark (needs healthdq[spark]).")
]
SparkMasterOption = Annotated[str, typer.Option(help="Spark master URL for --engine spark.")]
OptOutOption = Annotated[
    Path | None,
    typer.Option(
        "--opt-out",
        help="National data opt-out: NHS numbers, one per line; their records are removed "
        "before anything is output.",
        metavar="FILE",
    ),
]
NhsNumberColumnOption = Annotated[
    str | None,
    typer.Option(
        "--nhs-number-column",
        help="With --opt-out: the column holding the NHS number (default: the one column "
        "named nhs_number, NEWNHSNO or NHSNO, any case).",
        metavar="NAME",
    ),
]
IdentifiableOption = Annotated[
    bool | None,
    typer.Option(
        "--identifiable/--not-identifiable",
        help="Data identifies patients: every table of counts gets --suppression "
        "(default: the contract's `identifiable`).",
    ),
]
SuppressionOption = Annotated[
    str | None,
    typer.Option(
        help="Policy for identifiable data: hes (1-7 as *), round5, threshold:N "
        "(default: the contract's, else hes).",
        metavar="POLICY",
    ),
]
