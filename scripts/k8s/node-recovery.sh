#!/usr/bin/env bash
# The real node after a crash, and what stop leaves behind: run by scripts/test-k8s.sh after the tests, against the
# cluster it started (same CELLPIPE_K8S_STATE). Starts a pod, kills every cluster process with SIGKILL (as a crashed
# CI job would leave them), checks that a second `start` cleans up and comes up with a working node, then stops and
# checks that nothing of the node is left: processes, containers, mounts, the bridge, the paths and sysctls the
# kubelet changes outside the state directory. Exit 1 naming what is wrong.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${CELLPIPE_K8S_STATE:?set CELLPIPE_K8S_STATE to the cluster test-k8s.sh started}
fail() { echo "node-recovery: $*" >&2; exit 1; }
ok() { echo "node-recovery: ok: $*"; }
sysctls() { sysctl -n vm.overcommit_memory kernel.panic kernel.panic_on_oops | tr '\n' ' '; }

eval "$(bash "$here/cluster.sh" env)"
[ "${CELLPIPE_K8S_NODE_KIND:-}" = real ] || { echo "node-recovery: skipped (no real node)"; exit 0; }
kc=(kubectl --kubeconfig "$CELLPIPE_K8S_KUBECONFIG" -n "$CELLPIPE_K8S_NAMESPACE")
before_sysctls=$(cat "$state/node-sysctls" | cut -d= -f2 | tr '\n' ' ')
pod() { # pod NAME: a busybox pod that sleeps on the real node
  printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s"},"spec":{"nodeName":"%s","terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"cellpipe.local/busybox:1","imagePullPolicy":"Never","command":["sleep","600"]}]}}' "$1" "$CELLPIPE_K8S_NODE" |
    "${kc[@]}" apply -f - >/dev/null && "${kc[@]}" wait --for=condition=Ready "pod/$1" --timeout=180s >/dev/null && return 0
  # Why it is not ready, for the failure message: its conditions and container states as the API server has them.
  "${kc[@]}" get "pod/$1" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason} {.message}{"\n"}{end}{range .status.containerStatuses[*]}{.name}: {.state}{"\n"}{end}' 2>&1 |
    sed "s/^/node-recovery: pod $1: /" >&2
  return 1
}
pod crash-victim || fail "the pod before the crash did not become ready"
for f in "$state"/pids/*; do kill -9 "$(cat "$f")" 2>/dev/null; done
pgrep -f "containerd-shim-runc-v2 .*$state" >/dev/null || fail "expected the pod's shim to outlive the crash (the case cleaned up here)"
ok "killed every cluster process with SIGKILL; the pod's container still runs"

restart_log=$(mktemp)
bash "$here/cluster.sh" start >"$restart_log" 2>&1 || { tail -20 "$restart_log" | sed 's/^/node-recovery: start: /' >&2; rm -f "$restart_log"; fail "start after the crash failed"; }
rm -f "$restart_log"
eval "$(bash "$here/cluster.sh" env)"
kc=(kubectl --kubeconfig "$CELLPIPE_K8S_KUBECONFIG" -n "$CELLPIPE_K8S_NAMESPACE")
pod after-crash || fail "a pod after the restart did not become ready"
ok "a second start cleaned up and the node runs pods again"

bash "$here/cluster.sh" stop >/dev/null 2>&1
left=()
pgrep -f "$state" >/dev/null && left+=("processes: $(pgrep -af "$state" | cut -c1-80 | tr '\n' ';')")
grep -q " $state/" /proc/mounts && left+=("mounts under $state")
ip link show cellpipe0 >/dev/null 2>&1 && left+=("the bridge cellpipe0")
[ -e "$state" ] && left+=("the state directory")
for p in /run/containerd /var/lib/kubelet; do [ -e "$p" ] && left+=("$p"); done
[ -d /var/log/containers ] && [ -n "$(find /var/log/containers -maxdepth 1 -lname "$state/*" 2>/dev/null)" ] && left+=("links in /var/log/containers")
[ "$(sysctls)" = "$before_sysctls" ] || left+=("sysctls changed: $(sysctls) (were $before_sysctls)")
[ ${#left[@]} -eq 0 ] || fail "left behind after stop: ${left[*]}"
ok "stop left nothing behind (sysctls: $(sysctls))"
