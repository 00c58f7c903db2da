#!/usr/bin/env bash
# Every test: formatting, lints, unit, property and integration tests of the whole workspace.
# CI (.ci/run) runs exactly `make test`, which runs this after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
# Release mode: the integration tests stream ~100 MB through the scanner and run every rule's
# examples with and without the prefilter; optimised, that takes seconds instead of minutes.
cargo test --workspace --locked --release

echo "== end to end: the guard with real clients (official SDKs, headless Chromium)"
cargo build --release --locked -p leakguard -p leakguard-testkit
./tests/e2e/run.sh

echo "== every shipped policy loads and passes its own tests"
./target/release/leakguard policy check policies/default.json policies/examples/*.json

# Last, so the closing line is the plain "N passed, N failed" summary CI reads.
echo "== rule self-test through the CLI"
./target/release/leakguard rules test | tail -1
