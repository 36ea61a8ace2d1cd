#!/usr/bin/env bash
# The whole test suite: formatting, lints, the docs' links, every test, a fuzz run of the HTTP API
# against its OpenAPI document, the A2A gateway with the A2A Python SDK, and a smoke run of the benchmarks.
# This is exactly what CI runs (.ci/run calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust 1.95 or newer (https://rustup.rs), then run this again" >&2
    exit 1
fi

step() { printf '\n==> %s\n' "$*"; }

# A clean build has nothing to reuse: incremental caches would only double the target directory.
if [[ "${CI:-}" == true ]]; then
    export CARGO_INCREMENTAL=0
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc, private items included (warnings are errors: broken and private links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items --locked

step "cargo test"
cargo test --workspace --locked
# The CLI's tests ran target/debug/colony, so it is built and fresh: the scripts below use it as is.
export COLONY_BINARY_BUILT=1

step "fuzz run of the HTTP API against its OpenAPI document (schemathesis)"
./scripts/api-fuzz.sh

# The A2A gateway end to end with the official A2A Python SDK (Python 3 with venv; PyPI on the first
# run, to install the pinned SDK into target/a2a-venv).
step "A2A gateway with the A2A Python SDK"
./scripts/a2a-test.sh

# A smoke run checks that every scenario runs and its books balance, not its figures (those come from
# release runs, README's "Benchmarks"): the debug build reuses the test step's optimised dependencies,
# where a release build would take a quarter of the suite's time on two cores.
step "benchmark smoke run (debug, --quick)"
cargo run --locked -p colony-bench -- all --quick
