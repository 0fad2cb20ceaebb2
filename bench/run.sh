#!/usr/bin/env bash
# The throughput benchmark in one command:
#
#     bash bench/run.sh [--size 1GiB] [--rounds 3] [--binary PATH] [--json OUT] [--memory | --formats]
#
# Makes (or refreshes, when bench/requirements.txt changes) a venv under target/bench-venv
# with Microsoft's Python SDK pinned, then runs bench/throughput.py in it. See bench/README.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/target/bench-venv"
requirements="$repo/bench/requirements.txt"
stamp="$venv/requirements.installed"

if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" || {
        echo "bench: Python 3 with venv is needed (apt-get install python3-venv)" >&2
        exit 1
    }
fi
if ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

cd "$repo"
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ left in bench/
exec "$venv/bin/python" "$repo/bench/throughput.py" "$@"
