#!/usr/bin/env bash
# Installs what building and testing Leakguard needs on a fresh Debian 12 machine with Rust,
# node and python present. Idempotent: a second run does nothing but check.
#
# The core is Rust: a toolchain with rustfmt and clippy, and a C compiler for crates that build
# C (zstd, brotli, aws-lc). The end-to-end tests drive the guard with real clients: curl,
# Debian's chromium, and the official openai, anthropic, google-genai and boto3 SDKs from PyPI in .venv (pinned in
# tests/e2e/requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }

# rustup's toolchain before Debian's rustc-web (installed below for scripts/cross-check.sh,
# which names it by path), whatever order PATH had.
[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ] && PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

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
need curl || apt_packages+=(curl)
# Tests stop child processes with kill(1) (SIGTERM, so they shut down cleanly).
[ -x /bin/kill ] || [ -x /usr/bin/kill ] || apt_packages+=(procps)
need openssl || apt_packages+=(openssl)
need chromium || apt_packages+=(chromium)
[ -e /etc/ssl/certs/ca-certificates.crt ] || apt_packages+=(ca-certificates)
# Desktop notifications are tested against a real notification daemon (dunst) on a private
# D-Bus session under Xvfb; SIEM forwarding against Debian's rsyslog (TLS via its GnuTLS driver).
need Xvfb || apt_packages+=(xvfb)
# The desktop test answers the system's save dialog as a user would, with typed keys.
need xdotool || apt_packages+=(xdotool)
need dunst || apt_packages+=(dunst)
need dbus-daemon || apt_packages+=(dbus-daemon)
need dbus-monitor || apt_packages+=(dbus-bin)
# rsyslogd lives in /usr/sbin, which is not on a non-root PATH.
need rsyslogd || [ -x /usr/sbin/rsyslogd ] || apt_packages+=(rsyslog)
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || apt_packages+=(rsyslog-gnutls)
# The desktop app (Tauri 2 on WebKitGTK): build libraries, the tray's indicator library, SVG
# icons, and WebKit's WebDriver for the end-to-end test; xdg-utils registers the link scheme.
# x11-apps (xwd) and netpbm let the desktop test check what the X display really shows.
for p in libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev webkit2gtk-driver xdg-utils x11-apps netpbm; do
  dpkg -s "$p" >/dev/null 2>&1 || apt_packages+=("$p")
done
# Deployment (tests/deploy): NSS tools for the browsers' trust stores, GSettings with the GNOME
# proxy schema (GLib's keyfile backend stands in for dconf), systemd-analyze to verify the
# units, a JDK for keytool and the Java probe of `leakguard doctor`, Node for its Node probe.
need certutil || apt_packages+=(libnss3-tools)
need gsettings || apt_packages+=(libglib2.0-bin)
dpkg -s gsettings-desktop-schemas >/dev/null 2>&1 || apt_packages+=(gsettings-desktop-schemas)
need systemd-analyze || apt_packages+=(systemd)
need update-ca-certificates || [ -x /usr/sbin/update-ca-certificates ] || apt_packages+=(ca-certificates)
need keytool || apt_packages+=(default-jdk-headless)
need node || apt_packages+=(nodejs)
# zip: the standard tool makes the archives (plain, encrypted, a bomb) tests/documents uploads.
need zip || apt_packages+=(zip)
# The macOS and Windows code is compiled by scripts/cross-check.sh: Debian's second Rust
# toolchain (rustc-web) ships its standard library's source (rust-web-src), from which cargo
# builds std for targets rustup would otherwise download; MinGW-w64 compiles the C
# dependencies (aws-lc, SQLite, zstd) for Windows and links the Windows tests, which Wine runs.
# Without their recommends: rustc-web's would add Debian's cargo beside rustup's, wine64's a
# 32-bit Wine this check does not use.
cross_packages=()
for p in rustc-web rust-web-src gcc-mingw-w64-x86-64-posix wine64; do
  dpkg -s "$p" >/dev/null 2>&1 || cross_packages+=("$p")
done
# Debian's own python3 ships venv without ensurepip; the package adds it.
python3 -c 'import ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
if [ ${#apt_packages[@]} -gt 0 ] || [ ${#cross_packages[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -q
  if [ ${#apt_packages[@]} -gt 0 ]; then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${apt_packages[@]}"
  fi
  if [ ${#cross_packages[@]} -gt 0 ]; then
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${cross_packages[@]}"
  fi
fi

# Python venv for the SDK tests, the desktop test (Selenium) and the document makers; rebuilt when the pinned
# requirements change.
req="$(mktemp)"
cat tests/e2e/requirements.txt tests/desktop/requirements.txt tests/documents/requirements.txt >"$req"
if [ ! -x .venv/bin/python ] || ! cmp -s "$req" .venv/requirements.txt; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt \
    -r tests/desktop/requirements.txt -r tests/documents/requirements.txt
  cp "$req" .venv/requirements.txt
fi
rm -f "$req"

# The UI and the Tauri CLI, exactly as locked.
if ! need npm; then
  echo "setup: npm not found. Install Node.js 20 or later and run again." >&2
  exit 2
fi
if ! cmp -s package-lock.json node_modules/.leakguard-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.leakguard-lock
fi

# tauri-driver: WebDriver for the real app (its 2.x, from crates.io).
if ! need tauri-driver && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  cargo install tauri-driver --version '^2' --locked -q
fi

# Fetch crates up front so a network problem shows here, not halfway through a build.
cargo fetch --locked -q 2>/dev/null || cargo fetch -q
