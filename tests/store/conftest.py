"""Store fixtures: the embedded DuckDB file and a real PostgreSQL server started for the session.

The server is a throwaway cluster: initdb into a temporary folder, pg_ctl start on a free port,
listening only on a unix socket in that folder. As root, initdb refuses to run, so the cluster
is made and run as `nobody` in a folder it owns. Without the binaries the PostgreSQL tests skip
with the reason printed.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from healthdq.store import Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "omop"))

from omop_fixture import make_cdm  # noqa: E402  (the OMOP CDM builder, shared with tests/omop)


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL server; yields a URL to its `postgres` database."""
    bindir = _pg_bin()
    if bindir is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL store tests skipped"
        print(reason)
        pytest.skip(reason)
    # A short path: unix socket paths are limited to ~107 bytes.
    root = Path(tempfile.mkdtemp(prefix="hdqpg-"))
    data, log = root / "data", root / "server.log"
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")

    def run(*args: str) -> None:
        subprocess.run(_unprivileged(list(args)), check=True, capture_output=True, cwd=root)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "healthdq", "--no-sync")
    options = f"-p {port} -k {root} -c listen_addresses='' -c fsync=off"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    try:
        yield f"postgresql://healthdq@/postgres?host={root}&port={port}"
    finally:
        stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run(_unprivileged(stop), capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def _unprivileged(args: list[str]) -> list[str]:
    """As root, the command run as `nobody` (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return args
    if shutil.which("runuser"):
        return ["runuser", "-u", "nobody", "--", *args]
    return ["su", "nobody", "-s", "/bin/sh", "-c", shlex.join(args)]


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server for one test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return postgres_server.replace("/postgres?", f"/{name}?")


@pytest.fixture(params=["duckdb", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on the embedded DuckDB file and on a real PostgreSQL database."""
    if request.param == "duckdb":
        return str(tmp_path / "runs.duckdb")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_location: str) -> Store:
    return open_store(store_location)


@pytest.fixture
def apc_file(tmp_path: Path) -> Path:
    """A small synthetic APC extract with seeded defects (failing rules, identifiers)."""
    from healthdq.synth import generate

    path = tmp_path / "apc.parquet"
    generate("apc", rows=400, seed=3, out=path)
    return path


__all__ = ["make_cdm"]
