#!/usr/bin/env bash
# Builds the guard's Debian package: target/debian/leakguard_<version>_<arch>.deb with
#   /usr/bin/leakguard
#   /usr/lib/systemd/user/leakguard.service (+ its default.target.wants link: every user's
#     guard starts at login and is restarted when it stops)
#   /usr/share/doc/leakguard/{deployment.md,copyright}
#   maintainer scripts (packaging/deb): postinst writes the managed browser policies, prerm
#   removes exactly them; both work chrootless under `dpkg --root` ($DPKG_ROOT).
# The desktop app is its own package (`npm run tauri -- build --bundles deb`).
# Needs target/release/leakguard (cargo build --release -p leakguard).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/target/release/leakguard"
[ -x "$BIN" ] || { echo "package-deb: build the guard first: cargo build --release -p leakguard" >&2; exit 2; }
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)"
ARCH="$(dpkg --print-architecture)"
OUT="$ROOT/target/debian"
STAGE="$OUT/stage"
rm -rf "$STAGE"
install -d "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/usr/lib/systemd/user/default.target.wants" \
  "$STAGE/usr/share/doc/leakguard"
install -m 0755 "$BIN" "$STAGE/usr/bin/leakguard"
strip --strip-debug "$STAGE/usr/bin/leakguard"
install -m 0644 "$ROOT/packaging/deb/leakguard.service" "$STAGE/usr/lib/systemd/user/leakguard.service"
ln -s ../leakguard.service "$STAGE/usr/lib/systemd/user/default.target.wants/leakguard.service"
install -m 0644 "$ROOT/docs/deployment.md" "$STAGE/usr/share/doc/leakguard/deployment.md"
printf 'Leakguard %s\nLicense: Apache-2.0\n' "$VERSION" >"$STAGE/usr/share/doc/leakguard/copyright"
for s in postinst prerm postrm; do
  install -m 0755 "$ROOT/packaging/deb/$s" "$STAGE/DEBIAN/$s"
done
SIZE="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: leakguard
Version: $VERSION
Architecture: $ARCH
Maintainer: Leakguard <security@example.invalid>
Installed-Size: $SIZE
Depends: libc6, ca-certificates
Recommends: libnss3-tools
Section: net
Priority: optional
Description: stops secrets and source code leaving in prompts to AI services
 A local TLS-intercepting guard for ChatGPT, Claude and the LLM APIs: finds secrets,
 personal data, the company's code and classified documents in prompts, and blocks,
 redacts, warns or records them under the organisation's signed policy.
CONTROL
mkdir -p "$OUT"
DEB="$OUT/leakguard_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
