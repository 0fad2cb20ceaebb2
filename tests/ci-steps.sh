#!/usr/bin/env bash
# Install steps the emulator's conformance suites need, for .ci/run to call before
# `cargo test --workspace` (the tests also do these themselves when they are missing):
# - tests/js_sdk: Microsoft's JS Data Lake SDK and @azure/identity, as package-lock.json pins
#   them (node and npm from the machine's packages);
# - tests/azurite: Microsoft's Azurite storage emulator, as package-lock.json pins it.
# The Python suites (tests/conformance, tests/datalake_suite, tests/pydomo, and pyarrow for
# tests/parquet.rs from tests/parquet/requirements.txt) make their own
# pinned virtual environments under target/ on first use; they need python3 with venv.
set -euo pipefail
tests="$(dirname "$0")"
for suite in js_sdk azurite; do
    (
        cd "$tests/$suite"
        npm ci --no-audit --no-fund --loglevel=error
        cp package-lock.json node_modules/.installed-lock
    )
done
