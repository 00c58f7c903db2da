#!/bin/sh
# Jamf Pro: a "Files and Processes" script (run as root, after the package put
# /usr/local/bin/leakguard in place) that installs the signed Leakguard policy with the
# fingerprint index and salt it names, pins the organisation's public key, and sets the guard
# up for the Mac's console user: a LaunchAgent (started at login, kept alive), the user's
# device CA trusted in the System keychain and for the runtimes, and routing. The profile
# leakguard.mobileconfig carries the PAC proxy and browser settings.
#
# Parameters (Jamf script parameters 4-7):
#   $4  HTTPS URL of policy.json on your distribution point (its .sig must sit beside it)
#   $5  the organisation's public key, the one line from `leakguard policy keygen` (it.pub)
#   $6  optional SHA-256 of policy.json, to refuse a swapped file before installing it
#   $7  optional: names of the index and salt files the policy names, space-separated; each is
#       fetched from beside the policy, and the signed policy's `index_sha256`/`salt_sha256`
#       must match them (`leakguard policy check` refuses otherwise)
set -eu
URL="$4"; PUBKEY="$5"; SHA="${6:-}"; FILES="${7:-}"
BASE="${URL%/*}"
DIR="/Library/Application Support/Leakguard"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
curl -fsS --proto '=https' "$URL" -o "$TMP/policy.json"
curl -fsS --proto '=https' "$URL.sig" -o "$TMP/policy.json.sig"
if [ -n "$SHA" ]; then
  echo "$SHA  $TMP/policy.json" | shasum -a 256 -c -
fi
for f in $FILES; do
  curl -fsS --proto '=https' "$BASE/$f" -o "$TMP/$f"
done
printf '%s\n' "$PUBKEY" > "$TMP/policy.pub"
# Refuse a policy that does not load or is not signed with the pinned key.
/usr/local/bin/leakguard policy check --public-key "$TMP/policy.pub" "$TMP/policy.json"
mkdir -p "$DIR"
for f in $FILES; do
  install -m 0644 -o root -g wheel "$TMP/$f" "$DIR/$f"
done
# Key first, then signature, then policy: the guard reloads on the policy change and finds a
# matching signature already in place.
install -m 0644 -o root -g wheel "$TMP/policy.pub" "$DIR/policy.pub"
install -m 0644 -o root -g wheel "$TMP/policy.json.sig" "$DIR/policy.json.sig"
install -m 0644 -o root -g wheel "$TMP/policy.json" "$DIR/policy.json"
echo "Leakguard policy installed in $DIR"

# The console user's guard: service (LaunchAgent), trust for the runtimes, then the device CA
# in the System keychain (administrator: this script), then a check.
USER_NAME="$(stat -f %Su /dev/console)"
if [ -n "$USER_NAME" ] && [ "$USER_NAME" != root ]; then
  USER_ID="$(id -u "$USER_NAME")"
  USER_HOME="$(dscl . -read "/Users/$USER_NAME" NFSHomeDirectory | awk '{print $2}')"
  as_user() { launchctl asuser "$USER_ID" sudo -u "$USER_NAME" -H /usr/local/bin/leakguard "$@"; }
  as_user service install
  as_user trust install --nss --runtimes
  /usr/local/bin/leakguard trust install --system --data-dir "$USER_HOME/.local/share/leakguard"
  as_user doctor --json > "/Library/Logs/leakguard-doctor-$USER_NAME.json" || true
  echo "Leakguard set up for $USER_NAME (doctor: /Library/Logs/leakguard-doctor-$USER_NAME.json)"
fi
