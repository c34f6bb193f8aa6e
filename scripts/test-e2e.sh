#!/usr/bin/env bash
# End-to-end tests of the JupyterLab extension in a real JupyterLab and Debian's Chromium (never a downloaded browser).
# Starts `jupyter lab` from .venv on 127.0.0.1 (random port, known token) over a temporary root holding
# candies_sharing.ipynb and a long-running notebook, runs test/e2e/*.spec.ts with Playwright, and stops the server.
# Screenshots land in test-results/e2e/ (and are copied to docs/ when CELLPIPE_UPDATE_DOCS=1).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
. test/e2e/jupyter.sh

corpus=${CELLPIPE_CORPUS:-$repo/../shared/corpus}
if [ ! -f "$corpus/kale/candies_sharing.ipynb" ]; then
  echo "e2e: $corpus/kale/candies_sharing.ipynb not found (set CELLPIPE_CORPUS)" >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || { echo "e2e: /usr/bin/chromium missing — apt-get install chromium (scripts/setup.sh does)" >&2; exit 1; }

root=$(mktemp -d)
cleanup() { jupyter_stop; rm -rf "$root"; }
trap cleanup EXIT INT TERM
cp "$corpus/kale/candies_sharing.ipynb" "$root/candies_sharing.ipynb"
cp "$corpus/kale/candies_sharing.ipynb" "$root/tagging.ipynb"
cp test/e2e/notebooks/long_running.ipynb test/e2e/notebooks/failing.ipynb "$root/"

jupyter_start "$root" || exit 1
echo "e2e: JupyterLab at $JUPYTER_URL (root $root)"
E2E_URL=$JUPYTER_URL E2E_TOKEN=$JUPYTER_TOKEN E2E_ROOT=$root \
  npx playwright test -c test/e2e/playwright.config.ts "$@"
rc=$?
if [ $rc -ne 0 ]; then
  echo "e2e: JupyterLab log (last 60 lines):"; tail -60 "$JUPYTER_LOG"
fi
exit $rc
