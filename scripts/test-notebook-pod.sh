#!/usr/bin/env bash
# cellpipe inside a Kubeflow notebook pod, end to end: the wheel (scripts/build-wheel.sh) built into the README's
# notebook image (containers/kubeflow-notebook/Containerfile, on the Debian Python base, by buildah — the builder of
# cellpipe's requirements images — with its layer cache: only the wheel's layers are built again on a warm machine),
# run as Kubeflow's notebook controller runs it on the test cluster's real node: in a profile namespace, service
# account default-editor, the KFP token projected at /var/run/secrets/kubeflow/pipelines/token, NB_PREFIX as base
# URL (test/notebook-pod/services.mjs). Then, with no profile written anywhere:
#   - `cellpipe doctor` in the pod checks the profile the pod implies (kubeflow, this notebook's namespace), and
#     `cellpipe submit --watch` there (no --profile) runs the quickstart and prints its steps' logs;
#   - in Chromium, from that JupyterLab (the pod's address on the cluster's bridge): the quickstart submitted with
#     the target "kubeflow (this notebook's namespace)" and each step's log under its cells
#     (test/e2e/notebook-pod.spec.ts).
# The cluster's Kubeflow Pipelines is the swagger-checked fake KFP server the e2e tests use, its runs executed by
# real pods (KFP's own stack is another, opt-in group: scripts/test-kfp.sh). Prints the image build's time (cold or
# warm) and the time from the pod's creation to the first step log in the notebook.
# Root only (the real node, iptables). Starts the test cluster: run it under the machine's lock,
#   flock /tmp/cellpipe-cluster.lock bash scripts/test-notebook-pod.sh
# Called by scripts/test.sh (and so by .ci/run). CELLPIPE_SKIP_NOTEBOOK_POD=1 skips it.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CELLPIPE_SKIP_NOTEBOOK_POD:-}" ]; then echo "test-notebook-pod: skipped (CELLPIPE_SKIP_NOTEBOOK_POD is set)"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "test-notebook-pod: needs root (the test cluster's real node)" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "test-notebook-pod: /usr/bin/chromium missing — apt-get install chromium (scripts/setup.sh does)" >&2; exit 1; }
command -v buildah >/dev/null || { echo "test-notebook-pod: buildah missing — apt-get install buildah (scripts/setup.sh does)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cellpipe-notebook-pod.XXXXXX")
services_pid=
log() { printf '\033[1m[test-notebook-pod]\033[0m %s\n' "$*" >&2; }
cleanup() {
  if [ -n "$services_pid" ]; then kill -TERM "$services_pid" 2>/dev/null; wait "$services_pid" 2>/dev/null; services_pid=; fi
  # DNAT rules a killed services process left behind (one real node per machine: none is anyone else's).
  { iptables -t nat -S PREROUTING 2>/dev/null || true; } | { grep -F 'cellpipe-nbpod' || true; } | sed 's/^-A //' | while read -r rule; do
    # shellcheck disable=SC2086
    iptables -t nat -D $rule 2>/dev/null || true
  done
  [ -d "$work/k8s" ] && CELLPIPE_K8S_STATE="$work/k8s" bash scripts/k8s/cluster.sh stop >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
fail() {
  echo "test-notebook-pod: FAIL: $*" >&2
  if [ -f "$work/services.err" ]; then echo "--- services (last 40 lines):" >&2; tail -40 "$work/services.err" >&2; fi
  exit 1
}

bash scripts/build-wheel.sh || fail "scripts/build-wheel.sh failed"

export CELLPIPE_K8S_STATE="$work/k8s"
bash scripts/k8s/build.sh >/dev/null || fail "building the test cluster binaries failed (scripts/k8s/build.sh)"
bash scripts/k8s/cluster.sh start >"$work/k8s-start.log" 2>&1 || { tail -30 "$work/k8s-start.log" >&2; fail "the test cluster did not start"; }
eval "$(bash scripts/k8s/cluster.sh env)"
[ "${CELLPIPE_K8S_NODE_KIND:-}" = real ] || fail "the test cluster has no real node"

node test/notebook-pod/services.mjs "$work/violations.txt" >"$work/services.log" 2>"$work/services.err" &
services_pid=$!
# A cold machine builds the base and JupyterLab's layer (pip from PyPI) first: up to 40 minutes under load.
for _ in $(seq 1 9600); do grep -q '^ready' "$work/services.log" && break; kill -0 "$services_pid" 2>/dev/null || break; sleep 0.25; done
grep -q '^ready' "$work/services.log" || fail "the notebook pod did not come up"
field() { sed -n "s/^$1 //p" "$work/services.log"; }
url=$(field url); pod=$(field pod); created=$(field pod-created)
read -r build_s build_kind <<<"$(field image-build)"
log "notebook image built in ${build_s} s (${build_kind}); pod $pod at $url"

NOTEBOOK_FIRST_LOG_FILE="$work/first-log" E2E_URL=$url E2E_TOKEN= E2E_ROOT="$work/none" NOTEBOOK_NAMESPACE=${pod%%/*} \
  npx playwright test -c test/e2e/playwright.config.ts notebook-pod.spec.ts
rc=$?
if [ $rc -ne 0 ]; then
  # 'why: ' lines are repeated in the suite's failure summary (scripts/test.sh), which is all CI shows of a long run.
  echo "--- the notebook pod's log (last 60 lines):" >&2
  node test/notebook-pod/pod.mjs logs "$pod" 2>&1 | tail -60 >&2
  node test/notebook-pod/pod.mjs logs "$pod" 2>&1 | grep -v -E '" 200 |GET /|^\s*$' | tail -15 | sed 's/^/why: notebook pod log: /' >&2
  node test/notebook-pod/pod.mjs pods "${pod%%/*}" 2>&1 | sed 's/^/why: pod: /' >&2
  # What the page showed when it failed (Playwright's ARIA snapshot of it): the sidebar's run and steps.
  for f in test-results/e2e/notebook-pod-*/error-context.md; do
    [ -f "$f" ] && grep -i -E 'run|step|load|clean|summarise|pending|waiting|fail|error|build|submit' "$f" | head -25 | sed 's/^/why: page: /' >&2 && break
  done
  fail "the browser test failed"
fi
[ -s "$work/first-log" ] || fail "the browser test did not record when the first step log showed"
first=$(cat "$work/first-log")

out=$(node test/notebook-pod/pod.mjs exec "$pod" cellpipe doctor 2>&1)
code=$?
echo "$out" | sed 's/^/  doctor | /' >&2
[ $code -eq 0 ] || fail "cellpipe doctor in the pod exited $code"
echo "$out" | grep -qF "cellpipe doctor — profile 'kubeflow'" || fail "cellpipe doctor in the pod did not check the profile 'kubeflow'"
echo "$out" | grep -qE "ok +profile +'kubeflow' from this Kubeflow notebook pod \(namespace '${pod%%/*}' from its service account" \
  || fail "cellpipe doctor did not say the profile comes from the notebook pod"

# The command line in the pod: `cellpipe submit` with no --profile takes the one the pod implies. The quickstart is
# the one the browser test uploaded; this run is a second one of the same spec, every step executed (--no-cache).
out=$(node test/notebook-pod/pod.mjs exec "$pod" sh -c 'cd /home/jovyan && exec cellpipe submit quickstart.ipynb --no-cache --watch' 2>&1)
code=$?
[ $code -eq 0 ] || { echo "$out" >&2; fail "cellpipe submit --watch in the pod exited $code"; }
echo "$out" | grep -qE '^load \| loaded 90 days$' || { echo "$out" >&2; fail "cellpipe submit --watch in the pod: load's log line did not come back"; }
echo "$out" | grep -qE '^run succeeded' || { echo "$out" >&2; fail "cellpipe submit --watch in the pod: the run did not succeed"; }
log "cellpipe doctor and cellpipe submit --watch in the pod: the profile the pod implies, no --profile"

kill -TERM "$services_pid" 2>/dev/null; wait "$services_pid" 2>/dev/null; services_pid=
if [ -s "$work/violations.txt" ]; then cat "$work/violations.txt" >&2; fail "requests outside KFP's contract, or without the projected token"; fi
CELLPIPE_K8S_STATE="$work/k8s" bash scripts/k8s/cluster.sh stop >/dev/null 2>&1
log "passed: image build ${build_s} s (${build_kind}), pod creation → first step log in the notebook $(( (first - created) / 1000 )).$(( (first - created) % 1000 / 100 )) s"
