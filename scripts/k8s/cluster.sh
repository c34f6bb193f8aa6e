#!/usr/bin/env bash
# A real Kubernetes control plane for tests and development, as plain processes on 127.0.0.1 (no Docker):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a real node (containerd + runc + the kubelet, see
# node.sh: pods run real containers) and KWOK (one fake node, tainted so only pods that ask for it land there, whose
# pods follow the Stages in scripts/k8s/kwok.yaml and serve logs from files: for what a real node cannot do here,
# such as hundreds of pods at once).
#
#   bash scripts/k8s/cluster.sh start    build the binaries if missing (first run: see build.sh), start, wait ready
#   bash scripts/k8s/cluster.sh start --kfp   the same, plus Kubeflow Pipelines 2.17.0's own stack (kfp.sh; the
#                                        first run builds it: kfp-build.sh, ~25 min on 2 cores)
#   bash scripts/k8s/cluster.sh env      print `export …` lines for the running cluster (eval them)
#   bash scripts/k8s/cluster.sh status   exit 0 when the cluster is up and ready
#   bash scripts/k8s/cluster.sh stop     stop every process it started and remove the state directory
#
# What `env` exports:
#   CELLPIPE_K8S_KUBECONFIG             admin kubeconfig (system:masters)
#   CELLPIPE_K8S_RESTRICTED_KUBECONFIG  service account cellpipe-test/cellpipe-restricted: may read pods and their
#                                       logs in the test namespace, nothing else (for RBAC-denial tests)
#   CELLPIPE_K8S_NAMESPACE              the test namespace (cellpipe-test)
#   CELLPIPE_K8S_NODE                   the node pods run on: the real one (cellpipe-node-0), or KWOK's without it
#   CELLPIPE_K8S_NODE_KIND              real | kwok: what CELLPIPE_K8S_NODE is
#   CELLPIPE_K8S_KWOK_NODE              the KWOK node's name (taint cellpipe.dev/kwok:NoSchedule)
#   CELLPIPE_K8S_LOG_DIR                a directory KWOK can read: put CRI-format log files there
#   CELLPIPE_K8S_REGISTRY_CONFIG        the real node's containerd registry config (certs.d): a registry on
#                                       127.0.0.1:PORT is pulled over plain HTTP once it has a hosts.toml there
#   CELLPIPE_K8S_NODE_IP                the real node's address (on the bridge node.sh makes)
#   CELLPIPE_K8S_KANIKO_EXECUTOR        kaniko's executor built by build.sh (tests put it in an image)
# and, after `start --kfp` (see kfp.sh):
#   CELLPIPE_PROFILES                   a profiles file whose profile `test` is this cluster's KFP and registry
#   CELLPIPE_KFP_HOST                   KFP's REST API (http://127.0.0.1:8888), single-user, namespace kubeflow
#   CELLPIPE_KFP_NAMESPACE, CELLPIPE_KFP_REGISTRY, CELLPIPE_KFP_S3 (SeaweedFS's S3 endpoint), KFP_*_IMAGE
#   CELLPIPE_KFP_MU_HOST                a second KFP API server, multi-user (MULTIUSER=true: identity from a bearer
#                                       token through TokenReview, then SubjectAccessReview), its own database
#   CELLPIPE_KFP_MU_NAMESPACES          its user namespaces (team-a team-b): each has service account default-editor
#                                       bound to KFP's edit rules there; ask the TokenRequest API for its tokens
#                                       (audience pipelines.kubeflow.org)
# CELLPIPE_K8S_REAL_NODE=0 leaves the real node out (KWOK only; e.g. without root).
# State lives in $CELLPIPE_K8S_STATE (default ${TMPDIR:-/tmp}/cellpipe-k8s-$UID); needs openssl, curl, node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${CELLPIPE_K8S_STATE:-${TMPDIR:-/tmp}/cellpipe-k8s-$(id -u)}
NS=cellpipe-test
NODE=kwok-node-0
real_node=${CELLPIPE_K8S_REAL_NODE:-1}
log() { printf '\033[1m[k8s]\033[0m %s\n' "$*" >&2; }
die() { printf '[k8s] error: %s\n' "$*" >&2; exit 1; }

. "$here/node.sh"
. "$here/kfp.sh"

free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

api() { # api METHOD PATH [curl args…]: a request to the apiserver as admin; prints the body
  local method=$1 path=$2; shift 2
  curl -sS --fail-with-body --max-time 20 --cacert "$state/pki/ca.crt" -H "Authorization: Bearer $(cat "$state/admin.token")" \
    -X "$method" "https://127.0.0.1:$(cat "$state/ports/api")$path" "$@"
}
create_yaml() { # create_yaml PATH: POST YAML from stdin, ignore AlreadyExists
  local out
  if ! out=$(api POST "$1" -H 'Content-Type: application/yaml' --data-binary @- 2>&1); then
    grep -q AlreadyExists <<<"$out" || die "creating $1 failed: $out"
  fi
}

running() { local f=$state/pids/$1; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; }

launch() { # launch NAME BINARY ARGS…: start in the background, stdout+stderr to $state/logs/NAME.log
  local name=$1; shift
  "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$state/pids/$name"
}

wait_for() { # wait_for SECONDS WHAT COMMAND…
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out waiting for $what; last log lines:"
      tail -n 20 "$state"/logs/*.log >&2 || true
      stop_all
      die "$what not ready after ${limit}s"
    fi
    sleep 0.3
  done
}

gen_pki() {
  local d=$state/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cellpipe-test-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # One serving certificate for the apiserver and KWOK's kubelet endpoint (both on 127.0.0.1).
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$d/serving.key" -out "$d/serving.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:%s\n' "$NODE" >"$d/san.ext"
  openssl x509 -req -in "$d/serving.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$d/san.ext" -out "$d/serving.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  chmod 600 "$d"/*.key
}

kubeconfig() { # kubeconfig FILE USER TOKEN
  local ca
  ca=$(base64 -w0 <"$state/pki/ca.crt")
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cellpipe-test
  cluster:
    server: https://127.0.0.1:$(cat "$state/ports/api")
    certificate-authority-data: $ca
users:
- name: $2
  user:
    token: $3
contexts:
- name: cellpipe-test
  context: {cluster: cellpipe-test, user: $2, namespace: $NS}
current-context: cellpipe-test
EOF
  chmod 600 "$1"
}

stop_pid() { # stop_pid NAME: SIGTERM to the process in pids/NAME, SIGKILL after 5 s (some ignore the first TERM)
  [ -f "$state/pids/$1" ] || return 0
  local pid; pid=$(cat "$state/pids/$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$state/pids/$1"
}

node_ready() { # node_ready NAME: exit 0 when the node reports Ready
  api GET "/api/v1/nodes/$1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const c=(JSON.parse(s).status?.conditions??[]).find(c=>c.type==="Ready");process.exit(c?.status==="True"?0:1)})'
}

stop_all() {
  [ -d "$state/pids" ] || return 0
  local name pid
  kfp_stop
  node_stop
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$state/pids/$name" ] || continue
    pid=$(cat "$state/pids/$name")
    kill "$pid" 2>/dev/null || true
  done
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pid "$name"; done
}

cmd_start() {
  if running kube-apiserver && cmd_status; then
    if [ "$with_kfp" = 1 ] && [ ! -f "$state/kfp/profiles.yaml" ]; then kfp_start; fi
    log "already running ($state)"; return 0
  fi
  stop_all
  local bin t0
  bin=$(bash "$here/build.sh")
  if [ "$with_kfp" = 1 ]; then
    [ "$real_node" = 1 ] || die "--kfp needs the real node (CELLPIPE_K8S_REAL_NODE=0 is set)"
    kfp_prerequisites
    bash "$here/kfp-build.sh" >/dev/null || die "building the Kubeflow stack failed (scripts/k8s/kfp-build.sh)"
  fi
  command -v etcd >/dev/null || die "etcd is not installed: apt-get install etcd-server (scripts/setup.sh does it)"
  command -v openssl >/dev/null || die "openssl is not installed"
  command -v curl >/dev/null || die "curl is not installed"
  t0=$(date +%s.%N)
  rm -rf "$state"; mkdir -p "$state"/{pids,logs,ports,pki,etcd,pod-logs}; chmod 700 "$state"
  chmod 755 "$state/pod-logs"
  echo "$bin" >"$state/bin-dir"
  gen_pki
  for p in etcd etcd-peer api kcm sched kwok kwok-metrics; do free_port >"$state/ports/$p"; done
  local etcd_port api_port
  etcd_port=$(cat "$state/ports/etcd"); api_port=$(cat "$state/ports/api")

  # Static tokens: admin and controller-manager (system:masters: one identity for all controllers, as without
  # --use-service-account-credentials), scheduler (RBAC from the bootstrap policy).
  for u in admin kcm sched; do head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$state/$u.token"; done
  {
    echo "$(cat "$state/admin.token"),admin,admin-uid,system:masters"
    echo "$(cat "$state/kcm.token"),system:kube-controller-manager,kcm-uid,system:masters"
    echo "$(cat "$state/sched.token"),system:kube-scheduler,sched-uid"
  } >"$state/pki/tokens.csv"
  chmod 600 "$state/pki/tokens.csv" "$state"/*.token
  kubeconfig "$state/admin.kubeconfig" admin "$(cat "$state/admin.token")"
  kubeconfig "$state/kcm.kubeconfig" system:kube-controller-manager "$(cat "$state/kcm.token")"
  kubeconfig "$state/sched.kubeconfig" system:kube-scheduler "$(cat "$state/sched.token")"
  local authz=(--authorization-mode RBAC)
  if [ "$real_node" = 1 ]; then
    KUBELET_BIN=$bin/kubelet
    node_prepare
    read -r -a authz <<<"$(node_apiserver_flags)"
  fi

  launch etcd etcd --name cellpipe --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$(cat "$state/ports/etcd-peer")" \
    --initial-advertise-peer-urls "http://127.0.0.1:$(cat "$state/ports/etcd-peer")" \
    --initial-cluster "cellpipe=http://127.0.0.1:$(cat "$state/ports/etcd-peer")" \
    --logger zap --log-level warn
  launch kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$state/pki/serving.crt" --tls-private-key-file "$state/pki/serving.key" \
    --client-ca-file "$state/pki/ca.crt" --token-auth-file "$state/pki/tokens.csv" \
    "${authz[@]}" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$state/pki/sa.pub" --service-account-signing-key-file "$state/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --kubelet-preferred-address-types InternalIP --kubelet-certificate-authority "$state/pki/ca.crt" \
    --allow-privileged=true --enable-priority-and-fairness=false --profiling=false \
    --endpoint-reconciler-type none --v 1
  wait_for 60 "etcd" curl -sf "http://127.0.0.1:$etcd_port/health"
  wait_for 90 "kube-apiserver" api GET /readyz
  log "apiserver ready after $(node -e "console.log((Date.now()/1000-$t0).toFixed(1))")s"

  launch kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$state/kcm.kubeconfig" --authentication-kubeconfig "$state/kcm.kubeconfig" \
    --authorization-kubeconfig "$state/kcm.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(cat "$state/ports/kcm")" --leader-elect=false \
    --service-account-private-key-file "$state/pki/sa.key" --root-ca-file "$state/pki/ca.crt" \
    --concurrent-job-syncs 5 --v 1
  launch kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$state/sched.kubeconfig" --authentication-kubeconfig "$state/sched.kubeconfig" \
    --authorization-kubeconfig "$state/sched.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$(cat "$state/ports/sched")" --leader-elect=false --v 1

  if [ "$real_node" = 1 ]; then
    node_start
    log "real node $REAL_NODE ready after $(node -e "console.log((Date.now()/1000-$t0).toFixed(1))")s"
  fi

  # KWOK's Logs and ClusterLogs kinds as CRDs, so tests can point pods at log files while the cluster runs.
  for crd in logs clusterlogs; do create_yaml /apis/apiextensions.k8s.io/v1/customresourcedefinitions <"$bin/crd/kwok.x-k8s.io_$crd.yaml"; done
  wait_for 30 "KWOK CRDs" api GET /apis/kwok.x-k8s.io/v1alpha1/clusterlogs
  create_yaml /api/v1/nodes <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE
  annotations: {kwok.x-k8s.io/node: fake}
  labels: {type: kwok, kubernetes.io/hostname: $NODE, kubernetes.io/os: linux, kubernetes.io/arch: amd64}
spec:
  taints: [{key: cellpipe.dev/kwok, value: "true", effect: NoSchedule}]
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
EOF
  launch kwok "$bin/kwok" --kubeconfig "$state/admin.kubeconfig" --config "$here/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --node-ip 127.0.0.1 --node-name "$NODE" \
    --node-port "$(cat "$state/ports/kwok")" --server-address "127.0.0.1:$(cat "$state/ports/kwok")" \
    --tls-cert-file "$state/pki/serving.crt" --tls-private-key-file "$state/pki/serving.key" \
    --node-lease-duration-seconds 40 --enable-crds Logs,ClusterLogs

  create_yaml /api/v1/namespaces <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $NS}
EOF
  create_yaml "/api/v1/namespaces/$NS/serviceaccounts" <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: cellpipe-restricted}
EOF
  create_yaml "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: cellpipe-restricted}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods/log], verbs: [get]}
EOF
  create_yaml "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/rolebindings" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cellpipe-restricted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cellpipe-restricted}
subjects:
- {kind: ServiceAccount, name: cellpipe-restricted, namespace: $NS}
EOF
  local token
  token=$(api POST "/api/v1/namespaces/$NS/serviceaccounts/cellpipe-restricted/token" -H 'Content-Type: application/json' \
    --data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":86400}}' |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).status.token))')
  kubeconfig "$state/restricted.kubeconfig" "system:serviceaccount:$NS:cellpipe-restricted" "$token"

  sa_ready() { api GET "/api/v1/namespaces/$NS/serviceaccounts/default"; }
  wait_for 60 "KWOK node $NODE" node_ready "$NODE"
  wait_for 60 "default service account in $NS" sa_ready
  if [ "$with_kfp" = 1 ]; then kfp_start; fi
  log "cluster ready in $(node -e "console.log((Date.now()/1000-$t0).toFixed(1))")s (state: $state)"
}

cmd_status() {
  [ -f "$state/admin.token" ] || return 1
  local names=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
  [ ! -f "$state/pids/kubelet" ] || names+=(containerd kubelet)
  [ ! -f "$state/kfp/profiles.yaml" ] || names+=("${KFP_PROCS[@]}")
  for n in "${names[@]}"; do running "$n" || { log "$n is not running"; return 1; }; done
  api GET /readyz >/dev/null 2>&1 || { log "apiserver not ready"; return 1; }
}

cmd_env() {
  [ -f "$state/admin.kubeconfig" ] || die "no cluster in $state: run '$0 start' first"
  cat <<EOF
export CELLPIPE_K8S_KUBECONFIG=$state/admin.kubeconfig
export CELLPIPE_K8S_RESTRICTED_KUBECONFIG=$state/restricted.kubeconfig
export CELLPIPE_K8S_NAMESPACE=$NS
export CELLPIPE_K8S_LOG_DIR=$state/pod-logs
export CELLPIPE_K8S_KWOK_NODE=$NODE
EOF
  local bin; bin=$(cat "$state/bin-dir" 2>/dev/null || true)
  [ -x "$bin/kaniko-executor" ] && echo "export CELLPIPE_K8S_KANIKO_EXECUTOR=$bin/kaniko-executor"
  if [ -f "$state/pids/kubelet" ]; then
    cat <<EOF
export CELLPIPE_K8S_NODE=$REAL_NODE
export CELLPIPE_K8S_NODE_KIND=real
export CELLPIPE_K8S_NODE_IP=$NODE_IP
export CELLPIPE_K8S_REGISTRY_CONFIG=$state/certs.d
EOF
  else
    printf 'export CELLPIPE_K8S_NODE=%s\nexport CELLPIPE_K8S_NODE_KIND=kwok\n' "$NODE"
  fi
  kfp_env
}

with_kfp=0
case "${1:-}" in
  start)
    [ "${2:-}" = --kfp ] && with_kfp=1
    [ -z "${2:-}" ] || [ "$with_kfp" = 1 ] || { echo "usage: $0 start [--kfp]" >&2; exit 2; }
    cmd_start ;;
  stop) stop_all; node_stop; rm -rf "$state"; log "stopped" ;;
  status) cmd_status && log "running ($state)" ;;
  env) cmd_env ;;
  *) echo "usage: $0 start [--kfp]|stop|status|env" >&2; exit 2 ;;
esac
