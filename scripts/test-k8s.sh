#!/usr/bin/env bash
# Kubernetes tests against a real control plane and a real kubelet node: starts the test cluster
# (scripts/k8s/cluster.sh; the first run on a machine builds the binaries), runs the src/kube and Kubeflow log tests
# and the log benchmark against it, checks crash recovery and clean-up (node-recovery.sh), and stops the cluster.
# Called by scripts/test.sh (and so by .ci/run). Set CELLPIPE_SKIP_K8S=1 to skip.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CELLPIPE_SKIP_K8S:-}" ]; then echo "test-k8s: skipped (CELLPIPE_SKIP_K8S is set)"; exit 0; fi
[ -f lib/kube/logs.test.js ] || npx tsc -b || exit 1
export CELLPIPE_K8S_STATE=${CELLPIPE_K8S_STATE:-${TMPDIR:-/tmp}/cellpipe-k8s-test-$$}
cleanup() { bash scripts/k8s/cluster.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
# Build first (cached after the first run), so the start below measures start-up only.
bash scripts/k8s/build.sh >/dev/null || { echo "test-k8s: building the cluster binaries failed"; exit 1; }
t0=$(date +%s.%N)
bash scripts/k8s/cluster.sh start || { echo "test-k8s: the test cluster did not start"; exit 1; }
export CELLPIPE_K8S_START_SECONDS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "test-k8s: cluster started in ${CELLPIPE_K8S_START_SECONDS}s"
eval "$(bash scripts/k8s/cluster.sh env)"
rc=0
node --expose-gc --test --test-concurrency=1 --test-reporter=spec lib/kube/*.test.js lib/runtimes/kubeflow/logs.test.js lib/runtimes/kubeflow/composing.test.js || rc=1
node bench/k8s-logs.mjs || rc=1
# Last, as it kills the cluster: a crashed node is cleaned up by the next start, and stop leaves nothing behind.
bash scripts/k8s/node-recovery.sh || rc=1
exit $rc
