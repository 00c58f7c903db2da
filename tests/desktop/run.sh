#!/usr/bin/env bash
# The desktop app end to end: the real Tauri binary (target/release/leakguard-desktop, built by
# `npm run tauri build`) under Xvfb, in a throw-away HOME and its own D-Bus session, driven
# through tauri-driver and WebKitWebDriver by Selenium, against a real guard run as a service
# (`leakguard service run`) and the test upstream, with curl as the client. Nothing outside
# the temporary directory is touched. LG_SCREENSHOTS=DIR also writes every view, light and
# dark, into DIR. Stops everything it started, whatever happens.
set -euo pipefail
NAME=desktop
. "$(dirname "$0")/../lib.sh"

# tauri-driver (cargo install, by scripts/setup.sh), found before HOME changes.
TAURI_DRIVER="$(command -v tauri-driver || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver")"

# A throw-away user: HOME, XDG dirs (autostart entries, window state, the scheme's .desktop
# file land here), runtime dir.
export HOME="$WORK/home"
export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$WORK/run"
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export LEAKGUARD_DATA_DIR="$WORK/guard"

"$BIN/leakguard-upstream" "$WORK/up" >"$WORK/up.out" 2>"$WORK/up.err" &
pids+=($!)
wait_for "$WORK/up.out" '^ready '
UP="$(awk '/^ready /{print $2}' "$WORK/up.out")"

# A record of 100,000 earlier events, as on a laptop after months of use.
"$BIN/leakguard-store-sample" "$LEAKGUARD_DATA_DIR" 100000 >/dev/null

# The default policy, except that source code to the API is held for confirmation (the warn
# flow), and a pause of up to 30 minutes is allowed (the tray's menu).
python3 - "$ROOT/policies/default.json" "$WORK/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p.pop("$schema", None)
p["actions"]["groups"]["enterprise-api"]["categories"]["source_code"] = "warn"
p.setdefault("controls", {})["pause_minutes"] = 30
json.dump(p, open(sys.argv[2], "w"))
PY

"$BIN/leakguard" service run --listen 127.0.0.1:0 --data-dir "$LEAKGUARD_DATA_DIR" --policy "$WORK/policy.json" \
  --upstream-ca "$WORK/up/upstream-ca.pem" --resolve "api.openai.com:443:$UP" \
  >"$WORK/guard.out" 2>"$WORK/guard.err" &
pids+=($!)
wait_for "$WORK/guard.out" 'ready on '
ADDR="$(grep -o 'ready on [0-9.:]*' "$WORK/guard.out" | awk '{print $3}')"

LG_ADDR="$ADDR" LG_CA="$LEAKGUARD_DATA_DIR/ca/leakguard-ca.pem" LG_APP="$BIN/leakguard-desktop" \
  LG_WORK="$WORK" LG_TAURI_DRIVER="$TAURI_DRIVER" LEAKGUARD_NO_AUTOSTART=1 \
  dbus-run-session -- xvfb-run -a -s "-screen 0 1400x900x24" \
  "$VENV/bin/python" "$ROOT/tests/desktop/test_desktop.py" 2>"$WORK/desktop.err" || {
  # WebKit, the portal and D-Bus are chatty: their log is shown only when a check failed.
  echo "desktop: FAILED; the last of the app's, the driver's and the test's log:" >&2
  tail -60 "$WORK/desktop.err" >&2
  [ -n "${LG_KEEP_LOG:-}" ] && cat "$WORK/desktop.err" "$WORK"/tauri-driver-*.log >"$LG_KEEP_LOG"
  exit 1
}
