#!/usr/bin/env bash
# Rebuilds the fingerprint index of the semiconductor example policy from its fictional source.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p leakguard
LEAKGUARD_FINGERPRINT_SALT="acme-semi-example-salt-2026" ./target/release/leakguard fingerprint build \
  --name acme-fw --out policies/examples/acme-fw.lgfp policies/examples/acme-src
