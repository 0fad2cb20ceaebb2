#!/usr/bin/env bash
# Fuzz smoke run, as CI runs it: each target for FUZZ_SECS seconds (default 25) with
# cargo-fuzz on the nightly toolchain. Fails on the first crash (the input is saved under
# fuzz/artifacts/TARGET/). Longer runs: see docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
secs="${FUZZ_SECS:-25}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(chunker validate)
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
for target in "${targets[@]}"; do
    dict=()
    if [ -f "dicts/$target.dict" ]; then
        dict=("-dict=dicts/$target.dict")
    fi
    # Inputs that once failed, replayed first (read-only: new inputs go to corpus/).
    seeds=()
    if [ -d "regressions/$target" ]; then
        seeds=("regressions/$target")
    fi
    echo "== fuzz $target for ${secs}s"
    mkdir -p "corpus/$target"
    cargo +nightly fuzz run --fuzz-dir . "$target" "corpus/$target" "${seeds[@]}" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}"
done
