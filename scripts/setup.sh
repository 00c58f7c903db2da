#!/usr/bin/env bash
# Installs what building and testing Leakguard needs on a fresh Debian 12 machine with Rust,
# node and python present. Idempotent: a second run does nothing but check.
#
# Today the core is pure Rust: it needs a Rust toolchain with rustfmt and clippy, and a C
# compiler for crates that build C (zstd, brotli). The proxy, desktop and end-to-end issues add
# their system packages here (apt), their npm packages (npm ci in ui/) and their Python venv.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }

if ! need cargo; then
  echo "setup: cargo not found. Install Rust (https://rustup.rs) and run again." >&2
  exit 2
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if need rustup; then
    rustup component add rustfmt clippy
  else
    echo "setup: rustfmt and clippy are missing and rustup is not available to add them." >&2
    exit 2
  fi
fi

apt_packages=()
need cc || apt_packages+=(gcc)
need make || apt_packages+=(make)
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}"
  else
    sudo apt-get update -q
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}"
  fi
fi

# Fetch crates up front so a network problem shows here, not halfway through a build.
cargo fetch --locked -q 2>/dev/null || cargo fetch -q
