#!/usr/bin/env bash
# Measures the JupyterLab extension in a real JupyterLab + Debian's Chromium:
#  1. the shipped labextension JS size (raw and gzip),
#  2. time from a step's print() to the line in the page (p50/p95 over 200 lines),
#  3. time to recompile and redraw diagnostics after an edit in a 300-cell notebook.
# Usage: bash bench/lab.sh   → prints a table and writes bench/lab-results.json
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
. test/e2e/jupyter.sh

static=python/cellpipe/labextension/static
[ -d "$static" ] || { echo "bench: $static missing — run bash scripts/setup.sh (it builds the labextension)" >&2; exit 1; }
raw=0; gz=0
for f in "$static"/*.js; do
  raw=$((raw + $(wc -c < "$f")))
  gz=$((gz + $(gzip -9 -c "$f" | wc -c)))
done
echo "labextension JS: $raw bytes ($gz gzipped) in $(ls "$static"/*.js | wc -l) files"

root=$(mktemp -d)
cleanup() { jupyter_stop; rm -rf "$root"; }
trap cleanup EXIT INT TERM
.venv/bin/python bench/lab_notebooks.py "$root"
jupyter_start "$root" || exit 1
BENCH_URL=$JUPYTER_URL BENCH_TOKEN=$JUPYTER_TOKEN BENCH_ROOT=$root BENCH_JS_RAW=$raw BENCH_JS_GZ=$gz \
  npx playwright test -c bench/lab.playwright.config.ts
