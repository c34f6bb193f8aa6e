#!/usr/bin/env bash
# The whole test suite: the README's test command and what .ci/run calls.
# Installs what is missing (scripts/setup.sh), then runs every group; exits non-zero when any group fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH"
failed=()
logs=$(mktemp -d)
group() {
  local name=$1; shift
  printf '\n\033[1m== %s\033[0m\n' "$name"
  # Each group's output is kept so the end of the run can repeat why a group failed: CI shows only the tail.
  "$@" 2>&1 | tee "$logs/$name.log"
  if [ "${PIPESTATUS[0]}" -ne 0 ]; then failed+=("$name"); fi
}
why_failed() {
  local log="$logs/$1.log"
  printf '\n-- why %s failed (failure lines from its output; the full output is above):\n' "$1"
  # '[page …]' lines are what the browser's console said; 'Traceback'/'[E ' what the Jupyter server's log said.
  # '> 43 |' is the line of a Playwright spec where it failed; 'node-recovery:' the crash-recovery check's verdicts;
  # 'why: ' what a group printed to explain its failure (the state of pods, the page, a log's tail).
  grep -a -n -E '✘|✖|not ok|[0-9]+\) .*›|Error|error:|FAIL|Timeout|timed out|did not start|missing|not found|Expected|Received|^\[page |Traceback|^\[E | → |^ *> +[0-9]+ \||node-recovery: |^why: ' "$log" \
    | grep -v -E '^[0-9]+:\s*$' | head -100
}
# Layers: every import points down the floors (.dependency-cruiser.cjs); a violation prints its arrow.
group "layers" npm run -s lint:layers
# TypeScript: unit and integration tests next to the code they test (compiled to lib/).
group "typescript" node --test --test-reporter=spec $(find lib -name '*.test.js' | sort)
# Python: the step runtime, the Jupyter glue, the analysis oracle and the KFP proto validation.
group "python" .venv/bin/python -m pytest -q python test
for extra in scripts/test-*.sh; do
  [ -f "$extra" ] && group "$(basename "$extra" .sh)" bash "$extra"
done
if [ ${#failed[@]} -gt 0 ]; then
  for name in "${failed[@]}"; do why_failed "$name"; done
  printf '\nFAILED groups: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall test groups passed\n'
