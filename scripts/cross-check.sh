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
# The Windows code that asks the system something is also *run*: the tests of `peer` (the TCP
# table with owning processes, an executable's path) and `deploy` (routes and addresses, the
# record of changes and its undo) are built for Windows and run under Wine (Debian's wine64)
# in a throw-away prefix. Wine 8 reports 0 as every connection's owning process (a Wine fault
# fixed in later versions), so the pid match itself is only checked on a real Windows.
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
WINE="$(command -v wine64 || echo /usr/lib/wine/wine64)"
[ -x "$WINE" ] || {
  echo "cross-check: wine64 is missing: run scripts/setup.sh (Debian package wine64)." >&2
  exit 2
}
command -v x86_64-w64-mingw32-gcc >/dev/null || {
  echo "cross-check: x86_64-w64-mingw32-gcc is missing: run scripts/setup.sh (Debian package gcc-mingw-w64-x86-64-posix)." >&2
  exit 2
}

# cargo with Debian's toolchain and std built from its source. No debug info: the C
# dependencies compile faster, and the tests need none.
cross_cargo() {
  RUSTC="$RUSTC_CROSS" RUSTC_BOOTSTRAP=1 RUSTFLAGS="-D warnings" CARGO_PROFILE_DEV_DEBUG=0 \
    CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
    cargo "$@" --locked -q --target-dir target/cross
}

check() {
  local target="$1"
  shift
  echo "cross-check: $target: $*"
  # aws-lc's build script reports each compiler feature it probes; those lines are dropped.
  cross_cargo check -Z build-std=std,panic_abort --target "$target" "$@" 2>&1 |
    sed '/^warning: aws-lc-sys@/d'
}

check x86_64-pc-windows-gnu --workspace
check aarch64-apple-darwin -p leakguard-peer -p leakguard-deploy -p leakguard-detect \
  -p leakguard-policy -p leakguard-providers -p leakguard-documents -p leakguard-types

# Run the Windows tests under Wine, in a prefix that goes away with the run.
WORK="$(mktemp -d)"
stop_wine() {
  WINEPREFIX="$WORK/prefix" "$(dirname "$WINE")/wineserver" -k 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop_wine EXIT
mkdir -p "$WORK/dll"
x86_64-w64-mingw32-gcc -shared -O2 -o "$WORK/dll/bcryptprimitives.dll" scripts/wine/bcryptprimitives.c -ladvapi32
echo "cross-check: x86_64-pc-windows-gnu: the peer and deploy tests, run under Wine"
windows_tests() {
  cross_cargo test --no-run -Z build-std=std,panic_abort,test --target x86_64-pc-windows-gnu \
    -p leakguard-peer -p leakguard-deploy "$@"
}
if ! windows_tests --message-format=json >"$WORK/build.json" 2>"$WORK/build.err"; then
  windows_tests 2>&1 | sed '/^warning: aws-lc-sys@/d' >&2 || true
  exit 1
fi
python3 - "$WORK/build.json" >"$WORK/tests" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])
PY
[ "$(wc -l <"$WORK/tests")" -eq 2 ] || {
  echo "cross-check: expected the peer and deploy test binaries, got: $(cat "$WORK/tests")" >&2
  exit 1
}
while read -r exe; do
  rc=0
  WINEPREFIX="$WORK/prefix" WINEDEBUG=-all WINEPATH="Z:$WORK/dll" HOME="$WORK" \
    timeout 300 "$WINE" "$exe" >"$WORK/out" 2>&1 || rc=$?
  grep -E '^(test |test result)' "$WORK/out" | sed 's/^/  wine: /' || true
  if [ "$rc" -ne 0 ]; then
    echo "cross-check: $(basename "$exe") failed under Wine (exit $rc):" >&2
    tail -40 "$WORK/out" >&2
    exit 1
  fi
done <"$WORK/tests"
echo "cross-check: Windows and macOS code compiles, and its Windows tests pass under Wine ($("$RUSTC_CROSS" --version))"
