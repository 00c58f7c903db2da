#!/usr/bin/env bash
# Compiles the code written for macOS and Windows, which this Linux machine cannot run, so that
# a `cfg(windows)` or `cfg(target_os = "macos")` branch cannot rot unseen.
#
# rustup's other targets are not reachable from here, so the standard library is built from
# source for each target (`-Z build-std`) with Debian's second toolchain, `rustc-web`, whose
# std source `rust-web-src` ships (both installed by scripts/setup.sh; RUSTC_BOOTSTRAP lets this
# one cargo invocation use the unstable flag). `cargo check` type-checks and borrow-checks
# every crate; nothing is linked.
#
# - Windows (x86_64-pc-windows-gnu): the whole workspace, the desktop app included (Tauri on
#   WebView2), C dependencies compiled by MinGW-w64.
# - macOS (aarch64-apple-darwin): the crates that need no Apple SDK: peer (which program sent
#   a request), deploy (trust, routing, service, network change), detect, policy, providers,
#   documents, types. The store, proxy, agent and binaries build C (SQLite, aws-lc, zstd,
#   jemalloc, the notification bridge) that needs the Apple SDK, which no registry here has.
#
# Warnings are errors, as in `cargo clippy` for Linux.
set -euo pipefail
cd "$(dirname "$0")/.."

RUSTC_CROSS="${LG_CROSS_RUSTC:-/usr/bin/rustc}"
SYSROOT="$("$RUSTC_CROSS" --print sysroot 2>/dev/null || true)"
if [ -z "$SYSROOT" ] || [ ! -f "$SYSROOT/lib/rustlib/src/rust/library/Cargo.lock" ]; then
  echo "cross-check: $RUSTC_CROSS with its standard library's source is missing: run scripts/setup.sh (Debian packages rustc-web, rust-web-src)." >&2
  exit 2
fi
command -v x86_64-w64-mingw32-gcc >/dev/null || {
  echo "cross-check: x86_64-w64-mingw32-gcc is missing: run scripts/setup.sh (Debian package gcc-mingw-w64-x86-64-posix)." >&2
  exit 2
}

check() {
  local target="$1"
  shift
  echo "cross-check: $target: $*"
  # No debug info: the C dependencies compile faster, and nothing is linked anyway. aws-lc's
  # build script reports each compiler feature it probes; those lines are dropped.
  RUSTC="$RUSTC_CROSS" RUSTC_BOOTSTRAP=1 RUSTFLAGS="-D warnings" CARGO_PROFILE_DEV_DEBUG=0 \
    cargo check --locked -q -Z build-std=std,panic_abort --target "$target" \
    --target-dir target/cross "$@" 2>&1 | sed '/^warning: aws-lc-sys@/d'
}

check x86_64-pc-windows-gnu --workspace
check aarch64-apple-darwin -p leakguard-peer -p leakguard-deploy -p leakguard-detect \
  -p leakguard-policy -p leakguard-providers -p leakguard-documents -p leakguard-types
echo "cross-check: Windows and macOS code compiles ($("$RUSTC_CROSS" --version))"
