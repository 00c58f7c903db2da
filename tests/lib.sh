# Shared by the end-to-end scripts (tests/e2e/run.sh, tests/desktop/run.sh): ROOT, BIN, a
# temporary WORK dir removed on exit with every process recorded in `pids`, and `wait_for`.
# Source it; set NAME first (it prefixes the messages).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release"
VENV="$ROOT/.venv"
WORK="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits until FILE contains PATTERN (a readiness line), up to 20 s.
wait_for() {
  local file=$1 pattern=$2
  for _ in $(seq 1 400); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$NAME: timed out waiting for '$pattern' in $file" >&2
  cat "$file" >&2 || true
  return 1
}
