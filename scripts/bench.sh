#!/usr/bin/env bash
# The benchmark figures of the README: criterion throughput and build time, latency
# percentiles of a 64 KB prompt, and peak memory of the CLI on a 96 MiB file.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench-out}
mkdir -p "$out"
cargo bench -p leakguard-detect --bench scan | tee "$out/scan.txt"
cargo bench -p leakguard-detect --bench latency | tee "$out/latency.txt"
cargo bench -p leakguard-detect --bench fingerprint | tee "$out/fingerprint.txt"
cargo bench -p leakguard-store --bench store | tee "$out/store.txt"
cargo run --release -q -p leakguard-detect --example fingerprint_eval -- 1000 | tee "$out/fingerprint-eval.txt"
cargo run --release -q -p leakguard-detect --example prose_eval | tee "$out/prose-eval.txt"
cargo build --release -p leakguard -q
python3 - "$out/big.txt" <<'PY'
import sys
para = "The review went well and the team agreed on the next steps for the launch in May.\n"
with open(sys.argv[1], "w") as f:
    n = 0
    while n < 96 << 20:
        f.write(para); n += len(para)
PY
./target/release/leakguard scan --stats "$out/big.txt" 2>&1 | tee "$out/cli.txt" || true
./target/release/leakguard scan --stats /dev/null 2>&1 | tee -a "$out/cli.txt" || true
rm -f "$out/big.txt"

# The proxy's figures (issue: the intercepting proxy), against a direct connection to the same
# TLS upstream in one run, then the same measurement through mitmproxy with a regex-redaction
# addon (bench/mitm_redact.py), the peer the README compares with. mitmproxy is pinned and
# installed into its own venv (.venv-bench) so it never mixes with the test venv.
cargo build --release -q -p leakguard -p leakguard-testkit
./target/release/leakguard-proxybench --iters 400 | tee "$out/proxy.txt"
if [ ! -x .venv-bench/bin/mitmdump ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q --disable-pip-version-check mitmproxy==11.0.2
fi
./target/release/leakguard-proxybench --iters 200 --peer mitmproxy --mitmdump .venv-bench/bin/mitmdump | tee "$out/proxy-mitmproxy.txt"

# Documents (issue 22): extraction throughput, upload latency, peak memory.
./scripts/bench-documents.sh
