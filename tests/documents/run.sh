#!/usr/bin/env bash
# Real documents through the guard: starts the test upstream (TLS, impersonating the LLM hosts)
# and the guard on 127.0.0.1, then runs tests/documents/test_documents.py with the official SDKs,
# curl and the document libraries of the venv. Needs target/release/{leakguard,leakguard-upstream}
# and the venv made by scripts/setup.sh. Stops everything it started, whatever happens.
set -euo pipefail
NAME=documents
. "$(dirname "$0")/../lib.sh"

"$BIN/leakguard-upstream" "$WORK/up" >"$WORK/up.out" 2>"$WORK/up.err" &
pids+=($!)
wait_for "$WORK/up.out" '^ready '
UP="$(awk '/^ready /{print $2}' "$WORK/up.out")"

resolve=()
for h in api.openai.com api.anthropic.com chatgpt.com claude.ai files.oaiusercontent.com; do
  resolve+=(--resolve "$h:443:$UP")
done
# "The company": this project's own documents and the document reader's code, indexed as an
# organisation would index its wiki and repositories.
mkdir -p "$WORK/company/docs" "$WORK/company/src"
cp "$ROOT"/docs/*.md "$WORK/company/docs/"
cp "$ROOT"/crates/documents/src/*.rs "$WORK/company/src/"
echo "documents-test-salt-0001" >"$WORK/salt"
"$BIN/leakguard" fingerprint build --name acme --salt-file "$WORK/salt" --out "$WORK/acme.lgfp" \
  "$WORK/company" >"$WORK/index.out" 2>&1 || { cat "$WORK/index.out" >&2; exit 1; }

# The shipped policy with that index, and a lower ceiling for uploads read from disk (96 MiB)
# so the test of the ceiling sends 100 MB, not 512.
"$VENV/bin/python" - "$ROOT/policies/default.json" "$WORK/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p.setdefault("documents", {})["max_upload_bytes"] = 96 << 20
p.setdefault("rules", {})["fingerprints"] = [{"index": "acme.lgfp", "salt_file": "salt"}]
json.dump(p, open(sys.argv[2], "w"))
PY
"$BIN/leakguard" run --no-notify --listen 127.0.0.1:0 --data-dir "$WORK/guard" --policy "$WORK/policy.json" \
  --upstream-ca "$WORK/up/upstream-ca.pem" "${resolve[@]}" >"$WORK/guard.out" 2>"$WORK/guard.err" &
guard=$!
pids+=($guard)
wait_for "$WORK/guard.out" 'ready on '
ADDR="$(grep -o 'ready on [0-9.:]*' "$WORK/guard.out" | awk '{print $3}')"

echo "== documents: real files through the guard ($ADDR)"
failed=0
HTTPS_PROXY="http://$ADDR" NO_PROXY="" LG_ADDR="$ADDR" LG_DEVICE_CA="$WORK/guard/ca/leakguard-ca.pem" \
  LG_UPSTREAM_LOG="$WORK/up/upstream.jsonl" LG_WORK="$WORK" LG_BIN="$BIN/leakguard" LG_GUARD_PID="$guard" LG_ROOT="$ROOT" \
  "$VENV/bin/python" -W ignore::ResourceWarning -W ignore::DeprecationWarning "$ROOT/tests/documents/test_documents.py" || failed=1

# The documents are in the events (metadata only): the blocked upload names its file, and no
# raw secret reached the event store.
found=0
for _ in $(seq 1 200); do
  if "$BIN/leakguard" events export --data-dir "$WORK/guard" --outcome blocked | grep -q '"documents":\["plan.docx (docx'; then
    found=1
    break
  fi
  sleep 0.05
done
if [ "$found" -eq 0 ]; then
  echo "documents: FAIL: no blocked event lists plan.docx" >&2
  failed=1
fi
# The usage view counts the uploaded documents and the images in them that were not read.
if ! "$BIN/leakguard" events usage --data-dir "$WORK/guard" --since 1d --json | "$VENV/bin/python" -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["host"] == "files.oaiusercontent.com"]
assert rows and sum(r["documents"] for r in rows) >= 3 and sum(r["unscanned_images"] for r in rows) >= 1, rows
'; then
  echo "documents: FAIL: the usage view does not count the uploads' documents and images" >&2
  failed=1
fi
if grep -qa 'AKIAQYLPMN5HJNGY4F7A' "$WORK/guard"/events.db*; then
  echo "documents: FAIL: a raw secret reached the event store" >&2
  failed=1
fi
if ! kill -0 "$guard" 2>/dev/null; then
  echo "documents: FAIL: the guard is not running any more" >&2
  failed=1
fi
exit $failed
