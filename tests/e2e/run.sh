#!/usr/bin/env bash
# End-to-end tests with real clients: starts the test upstream (TLS, impersonating the LLM
# hosts) and the guard on 127.0.0.1, then drives them with the official Python SDKs and with
# headless Chromium. Needs target/release/{leakguard,leakguard-upstream} and the venv made by
# scripts/setup.sh. Stops everything it started, whatever happens.
set -euo pipefail
NAME=e2e
. "$(dirname "$0")/../lib.sh"

"$BIN/leakguard-upstream" "$WORK/up" >"$WORK/up.out" 2>"$WORK/up.err" &
pids+=($!)
wait_for "$WORK/up.out" '^ready '
UP="$(awk '/^ready /{print $2}' "$WORK/up.out")"

resolve=()
for h in api.openai.com api.anthropic.com chatgpt.com claude.ai intranet.test \
  bedrock-runtime.us-east-1.amazonaws.com generativelanguage.googleapis.com gemini.google.com; do
  resolve+=(--resolve "$h:443:$UP")
done
"$BIN/leakguard" run --no-notify --listen 127.0.0.1:0 --data-dir "$WORK/guard" \
  --upstream-ca "$WORK/up/upstream-ca.pem" "${resolve[@]}" >"$WORK/guard.out" 2>"$WORK/guard.err" &
pids+=($!)
wait_for "$WORK/guard.out" 'ready on '
ADDR="$(grep -o 'ready on [0-9.:]*' "$WORK/guard.out" | awk '{print $3}')"
CA="$WORK/guard/ca/leakguard-ca.pem"

failed=0
echo "== e2e: official OpenAI, Anthropic, Google Gen AI and AWS (boto3) SDKs through the guard ($ADDR)"
HTTPS_PROXY="http://$ADDR" NO_PROXY="" LG_DEVICE_CA="$CA" LG_UPSTREAM_LOG="$WORK/up/upstream.jsonl" \
  "$VENV/bin/python" -W ignore::ResourceWarning "$ROOT/tests/e2e/test_sdks.py" || failed=1

echo "== e2e: headless Chromium: ChatGPT's and Gemini's web shapes, a prompt in the address"
LG_ADDR="$ADDR" LG_DEVICE_CA="$CA" LG_WORK="$WORK" LG_UPSTREAM_LOG="$WORK/up/upstream.jsonl" \
  "$VENV/bin/python" "$ROOT/tests/e2e/test_chromium.py" || failed=1

# Events are committed asynchronously: waits until `leakguard events export ARGS` prints a
# line, or fails with MESSAGE.
expect_event() {
  local message="$1"
  shift
  for _ in $(seq 1 200); do
    if [ "$("$BIN/leakguard" events export --data-dir "$WORK/guard" "$@" | wc -l)" -gt 0 ]; then
      return 0
    fi
    sleep 0.05
  done
  echo "e2e: FAIL: $message" >&2
  failed=1
}
# The blocked prompts are in the event store, by rule and masked preview; the key boto3's
# converse_stream answer carried is in a `reply` event (read from the AWS event stream as it
# went to the client); and the raw key is nowhere in the database files.
expect_event "no blocked aws-access-key-id event in the store" --outcome blocked --rule aws-access-key-id
expect_event "no reply event for the key in Bedrock's event stream" --kind reply \
  --rule aws-access-key-id --host bedrock-runtime.us-east-1.amazonaws.com
expect_event "no reply event for the key in ChatGPT's web stream (read in Chromium)" --kind reply \
  --rule aws-access-key-id --host chatgpt.com
expect_event "no blocked event for the key in Gemini's nested form (sent by Chromium)" \
  --outcome blocked --rule aws-access-key-id --host gemini.google.com
if grep -qa 'AKIAQYLPMN5HJNGY4F7A' "$WORK/guard"/events.db*; then
  echo "e2e: FAIL: a raw secret reached the event store" >&2
  failed=1
fi
exit $failed
