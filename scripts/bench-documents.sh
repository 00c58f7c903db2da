#!/usr/bin/env bash
# The document figures of the README (issue 22): extraction throughput per format (criterion,
# MB/s of the file's size), the time the guard adds to a 1 MB DOCX and a 10 MB PDF upload
# (criterion, `inspect` on an OpenAI files.create body), and the CLI's peak memory reading each
# file (`leakguard scan --stats`). The files are made by bench/make_documents.py with the venv's
# python-docx, reportlab, openpyxl, python-pptx and odfpy (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench-out}
mkdir -p "$out"
docs="$(mktemp -d)"
trap 'rm -rf "$docs"' EXIT
.venv/bin/python bench/make_documents.py "$docs" "$PWD" | tee "$out/documents-files.txt"
LG_BENCH_DOCS="$docs" cargo bench -p leakguard-documents --bench extract | tee "$out/documents-extract.txt"
LG_BENCH_DOCS="$docs" cargo bench -p leakguard-proxy --bench upload | tee "$out/documents-upload.txt"
cargo build --release -q -p leakguard
for f in "$docs"/*; do
  printf '%s: ' "$(basename "$f")"
  ./target/release/leakguard scan --stats "$f" 2>&1 >/dev/null | tail -1
done | tee "$out/documents-memory.txt"
