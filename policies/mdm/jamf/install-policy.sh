#!/bin/sh
# Jamf Pro: a "Files and Processes" script (run as root) that installs the signed Leakguard
# policy and pins the organisation's public key on a Mac.
#
# Parameters (Jamf script parameters 4-6):
#   $4  HTTPS URL of policy.json on your distribution point (its .sig must sit beside it)
#   $5  the organisation's public key, the one line from `leakguard policy keygen` (it.pub)
#   $6  optional SHA-256 of policy.json, to refuse a swapped file before installing it
set -eu
URL="$4"; PUBKEY="$5"; SHA="${6:-}"
DIR="/Library/Application Support/Leakguard"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
curl -fsS --proto '=https' "$URL" -o "$TMP/policy.json"
curl -fsS --proto '=https' "$URL.sig" -o "$TMP/policy.json.sig"
if [ -n "$SHA" ]; then
  echo "$SHA  $TMP/policy.json" | shasum -a 256 -c -
fi
printf '%s\n' "$PUBKEY" > "$TMP/policy.pub"
# Refuse a policy that does not load or is not signed with the pinned key.
/usr/local/bin/leakguard policy check --public-key "$TMP/policy.pub" "$TMP/policy.json"
mkdir -p "$DIR"
# Key first, then signature, then policy: the guard reloads on the policy change and finds a
# matching signature already in place.
install -m 0644 -o root -g wheel "$TMP/policy.pub" "$DIR/policy.pub"
install -m 0644 -o root -g wheel "$TMP/policy.json.sig" "$DIR/policy.json.sig"
install -m 0644 -o root -g wheel "$TMP/policy.json" "$DIR/policy.json"
echo "Leakguard policy installed in $DIR"
