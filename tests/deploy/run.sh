#!/usr/bin/env bash
# Leakguard installed on a "laptop" made of throw-away directories: trust, routing (GNOME
# settings through GLib's keyfile backend, read by headless Chromium), doctor with real
# clients, drift events, the service unit and exact uninstall. Starts the test upstream (TLS,
# impersonating chatgpt.com); tests/deploy/test_deploy.py starts the guard in the throw-away
# HOME. Needs target/release/{leakguard,leakguard-upstream}, certutil, gsettings, java,
# node, chromium (scripts/setup.sh). Touches nothing outside its temporary directory.
set -euo pipefail
NAME=deploy
. "$(dirname "$0")/../lib.sh"

"$BIN/leakguard-upstream" "$WORK/up" >"$WORK/up.out" 2>"$WORK/up.err" &
pids+=($!)
wait_for "$WORK/up.out" '^ready '
UP="$(awk '/^ready /{print $2}' "$WORK/up.out")"
failed=0

echo "== deploy: trust, routing, doctor, drift, service, uninstall (throw-away HOME and root)"
LG_BIN="$BIN" LG_WORK="$WORK" LG_UPSTREAM="$UP" LG_UPSTREAM_CA="$WORK/up/upstream-ca.pem" \
  LG_UPSTREAM_LOG="$WORK/up/upstream.jsonl" "$VENV/bin/python" "$ROOT/tests/deploy/test_deploy.py" || failed=1

echo "== deploy: the guard's .deb installed and purged with dpkg in a throw-away root"
LG_WORK="$WORK" "$VENV/bin/python" "$ROOT/tests/deploy/test_deb.py" || failed=1
exit $failed
