#!/usr/bin/env bash
# Every test: the UI's lint, types and tests; formatting, lints, unit, property and integration
# tests of the whole workspace; the guard end to end with real clients; the desktop app's
# package and the real app end to end.
# CI (.ci/run) runs exactly `make test`, which runs this after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# rustup's toolchain (with rustfmt and clippy) before Debian's rustc-web, which setup.sh
# installs for scripts/cross-check.sh only.
[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ] && PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

echo "== UI: lint, type check, unit and view tests (Vitest), build"
npm run lint
npm run check
npm test
npm run build

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== the macOS and Windows code compiles for its targets (std built from source); its Windows tests run under Wine"
./scripts/cross-check.sh

echo "== cargo test"
# Release mode: the integration tests stream ~100 MB through the scanner and run every rule's
# examples with and without the prefilter; optimised, that takes seconds instead of minutes.
cargo test --workspace --locked --release

echo "== document fingerprints on a held-out set of public documents (the READMEs of Cargo.lock's crates)"
cargo run --release --locked -q -p leakguard-detect --example prose_eval -- --check

echo "== accuracy: personal data, digits of any script, encodings, look-alikes (tests/accuracy)"
cargo run --release --locked -q -p leakguard-detect --example accuracy_eval -- --check

echo "== end to end: the guard with real clients (official SDKs, headless Chromium)"
cargo build --release --locked -p leakguard -p leakguard-testkit
./tests/e2e/run.sh

echo "== documents: real Word, PowerPoint, Excel, PDF, OpenDocument, e-mail, notebook and zip files on every upload path"
./tests/documents/run.sh

echo "== deployment: trust, routing, doctor, drift, service and uninstall in a throw-away HOME and root"
./tests/deploy/run.sh

echo "== desktop app: the .deb bundle, then the real app end to end (Xvfb, tauri-driver)"
npm run tauri -- build --bundles deb
ls target/release/bundle/deb/*.deb
cargo build --release --locked -p leakguard-store --bin leakguard-store-sample
./tests/desktop/run.sh

echo "== every shipped policy loads and passes its own tests"
./target/release/leakguard policy check policies/default.json policies/examples/*.json

# Last, so the closing line is the plain "N passed, N failed" summary CI reads.
echo "== rule self-test through the CLI"
./target/release/leakguard rules test | tail -1
