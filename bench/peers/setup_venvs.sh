#!/usr/bin/env bash
# Create the peer tools' venvs (never the project's): bench/peers/.venv for Great Expectations
# and pandera, bench/peers/.venv-soda for Soda Core, bench/peers/.venv-spark for GX on Spark
# (only with --spark). Re-installs only when a requirements file
# changed since the last install.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")" && pwd)"

make_venv() {
    local venv="$1" reqs="$2"
    local stamp="$venv/.installed"
    if [ -f "$stamp" ] && cmp -s "$reqs" "$stamp"; then
        return
    fi
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$reqs"
    cp "$reqs" "$stamp"
}

make_venv "$HERE/.venv" "$HERE/requirements-peers.txt"
make_venv "$HERE/.venv-soda" "$HERE/requirements-soda.txt"
if [ "${1:-}" = "--spark" ]; then
    make_venv "$HERE/.venv-spark" "$HERE/requirements-spark.txt"
fi
