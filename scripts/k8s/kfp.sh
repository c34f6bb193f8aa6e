# Sourced by cluster.sh: Kubeflow Pipelines 2.17.0's own stack on the test cluster (`cluster.sh start --kfp`), built
# from source by kfp-build.sh into the per-machine cache. See ../shared/ref/kfp-real-stack.md for the error behind
# each setting.
#
# Host processes (fast to start, no image to build for them; each as KFP's manifests configure it):
#   MariaDB (Debian)             127.0.0.1:<free port>         KFP's database
#   SeaweedFS `weed mini`        $NODE_IP:9000 (S3)            the object store, bucket mlpipeline
#   ML Metadata (mlmd-server.py) $NODE_IP:8080                 the wheel's store behind our gRPC server
#   KFP API server               :8887 (gRPC), 127.0.0.1:8888  (HTTP)
#   KFP API server, multi-user   :<free port> (gRPC), 127.0.0.1:<free port> (HTTP); database mlpipeline_mu; identity
#                                from a bearer token (TokenReview, audience pipelines.kubeflow.org) or kubeflow-userid,
#                                then SubjectAccessReview on pipelines.kubeflow.org in namespaces team-a, team-b
#   persistence agent, scheduled-workflow controller, Argo's workflow controller (v4.0.5)
#   docker-registry (Debian)     127.0.0.1:<free port>         the test registry (profile `test`)
# Pods (on the real node, images built by cellpipe's image builder and pushed to that registry): KFP's driver, the
# launcher (its init container copies it into every step pod), Argo's argoexec (init and wait containers).
#
# Networking shortcut (no CoreDNS, no kube-proxy: see README): KFP's compiled workflows address its services by
# cluster DNS names; the API server adds `hostAliases` for them (COMPILED_PIPELINE_SPEC_PATCH, a KFP setting) pointing
# at the node's bridge address, where the services listen. Argo's wait container and KFP's driver and launcher call
# the Kubernetes API at the `kubernetes` Service (10.0.0.1:443): one iptables DNAT rule sends that to the API server
# on 127.0.0.1 (route_localnet on the bridge only), removed by stop; pods reach 10.0.0.1 by their default route via
# the bridge (node.sh).
# The API server's gRPC port listens on every interface: its REST gateway dials "localhost" + the port flag, so the
# flag must be `:8887` (an address in it breaks every REST call).
#
# Needs from cluster.sh: $state, $here, log, die, launch, wait_for, api, create_yaml, free_port, stop_pid, running,
# $NODE_IP (node.sh).

KFP_NS=kubeflow
KFP_GRPC_PORT=8887
KFP_HTTP_PORT=8888
KFP_S3_PORT=9000
KFP_MLMD_PORT=8080
# Multi-user mode's namespaces (as Kubeflow profiles make them: service account default-editor, KFP's edit role).
KFP_MU_NAMESPACES=(team-a team-b)
KFP_HOSTS=(ml-pipeline.kubeflow.svc.cluster.local ml-pipeline.kubeflow metadata-grpc-service.kubeflow.svc.cluster.local
  seaweedfs.kubeflow seaweedfs.kubeflow.svc seaweedfs.kubeflow.svc.cluster.local minio-service.kubeflow)
KFP_PROCS=(kfp-workflow-controller kfp-scheduledworkflow kfp-persistence-agent kfp-apiserver-mu kfp-apiserver kfp-mlmd kfp-seaweedfs kfp-mariadb kfp-registry)

kfp_prerequisites() {
  local missing=()
  for tool in mariadbd mariadb-install-db docker-registry iptables; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] || die "missing for the Kubeflow stack: ${missing[*]} — run: bash scripts/setup.sh (mariadb-server, docker-registry, iptables)"
  [ -f "$here/../../lib/images/registry.js" ] || die "cellpipe is not built (lib/ is missing): npm run build:lib"
}

# The DNAT of the `kubernetes` Service to the API server (pods reach the host through the bridge).

# DNAT rules a crashed cluster left (any state directory: one real node per machine, so none is in use).
kfp_drop_stale_rules() {
  local rule
  { iptables -t nat -S PREROUTING 2>/dev/null || true; } | { grep -F 'cellpipe-kfp' || true; } | sed 's/^-A //' | while read -r rule; do
    # shellcheck disable=SC2086
    iptables -t nat -D $rule 2>/dev/null || true
  done
}

# A failed start stops what it started (the cluster's processes hold the caller's lock while they run).
kfp_die() { stop_all; die "$@"; }

kfp_start() {
  kfp_prerequisites
  local kc t0 k=$state/kfp
  kc=$(bash "$here/kfp-build.sh") || kfp_die "building the Kubeflow stack failed (scripts/k8s/kfp-build.sh)"
  t0=$(date +%s.%N)
  mkdir -p "$k"/{mysql,weed,home/.kube,registry,tokens}
  echo "$kc" >"$k/cache-dir"
  for p in kfp-mysql kfp-registry kfp-mu-http kfp-mu-grpc; do free_port >"$state/ports/$p"; done

  kfp_drop_stale_rules
  # --- Kubernetes: the route to the `kubernetes` Service --------------------------------------------------------
  sysctl -q -w "net.ipv4.conf.$NODE_BRIDGE.route_localnet=1"
  iptables -t nat -A PREROUTING -i "$NODE_BRIDGE" -d 10.0.0.1/32 -p tcp --dport 443 -m comment --comment cellpipe-kfp \
    -j DNAT --to-destination "127.0.0.1:$(cat "$state/ports/api")" || kfp_die "iptables: could not add the DNAT rule for 10.0.0.1:443"

  # --- the registry ---------------------------------------------------------------------------------------------
  local reg_port; reg_port=$(cat "$state/ports/kfp-registry")
  cat >"$k/registry.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $k/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$reg_port}
EOF
  launch kfp-registry docker-registry serve "$k/registry.yml"
  mkdir -p "$state/certs.d/127.0.0.1:$reg_port"
  printf 'server = "http://127.0.0.1:%s"\n[host."http://127.0.0.1:%s"]\n  capabilities = ["pull", "resolve"]\n  skip_verify = true\n' \
    "$reg_port" "$reg_port" >"$state/certs.d/127.0.0.1:$reg_port/hosts.toml"

  # --- MariaDB, SeaweedFS, ML Metadata ----------------------------------------------------------------------------
  mariadb-install-db --no-defaults --user=root --datadir="$k/mysql" --auth-root-authentication-method=normal \
    --skip-test-db >"$state/logs/kfp-mariadb-install.log" 2>&1 || { tail "$state/logs/kfp-mariadb-install.log" >&2; kfp_die "mariadb-install-db failed"; }
  launch kfp-mariadb mariadbd --no-defaults --user=root --bind-address=127.0.0.1 --port="$(cat "$state/ports/kfp-mysql")" \
    --socket="$k/mysql.sock" --datadir="$k/mysql" --skip-log-bin --innodb-buffer-pool-size=64M
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$k/s3.secret"
  chmod 600 "$k/s3.secret"
  cat >"$k/s3.json" <<EOF
{"identities": [{"name": "kfp", "credentials": [{"accessKey": "kfp-test", "secretKey": "$(cat "$k/s3.secret")"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
  chmod 600 "$k/s3.json"
  # Fixed ports on the bridge address (one node per machine): weed derives each gRPC port as port + 10000.
  launch kfp-seaweedfs "$kc/bin/weed" mini -dir="$k/weed" -ip="$NODE_IP" -ip.bind="$NODE_IP" -s3.port="$KFP_S3_PORT" \
    -s3.config="$k/s3.json" -bucket=mlpipeline -master.port=9333 -volume.port=9340 -filer.port=8889 \
    -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0
  launch kfp-mlmd "$kc/mlmd/bin/python" "$here/mlmd-server.py" --host "$NODE_IP" --port "$KFP_MLMD_PORT" --sqlite "$k/mlmd.sqlite"

  # --- Kubernetes objects: namespace, CRDs, service accounts, secrets, Argo's configmap ------------------------
  create_yaml /api/v1/namespaces <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $KFP_NS}
EOF
  local crd
  for crd in "$kc"/crd/*.yaml; do create_yaml /apis/apiextensions.k8s.io/v1/customresourcedefinitions <"$crd"; done
  for sa in pipeline-runner ml-pipeline-persistenceagent ml-pipeline-scheduledworkflow argo; do
    create_yaml "/api/v1/namespaces/$KFP_NS/serviceaccounts" <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: $sa}
EOF
  done
  # What the workflow pods do (Argo's wait container: task results, pod patches; driver and launcher: configmaps,
  # secrets, pods) stays in this namespace.
  create_yaml "/apis/rbac.authorization.k8s.io/v1/namespaces/$KFP_NS/roles" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pipeline-runner}
rules:
- {apiGroups: ["", argoproj.io, apps, batch], resources: ["*"], verbs: ["*"]}
EOF
  create_yaml "/apis/rbac.authorization.k8s.io/v1/namespaces/$KFP_NS/rolebindings" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pipeline-runner}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pipeline-runner}
subjects:
- {kind: ServiceAccount, name: pipeline-runner, namespace: $KFP_NS}
EOF
  create_yaml "/api/v1/namespaces/$KFP_NS/secrets" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: mlpipeline-minio-artifact}
stringData: {accesskey: kfp-test, secretkey: "$(cat "$k/s3.secret")"}
EOF
  python3 - "$kc/config/workflow-controller-configmap-patch.yaml" "$k/argo-configmap.yaml" <<'EOF'
import sys
text = open(sys.argv[1]).read()
text = text.replace('$(kfp-namespace)', 'kubeflow').replace('$(kfp-artifact-bucket-name)', 'mlpipeline')
# Host processes share the host's ports: the scheduled-workflow controller's metrics already listen on :9090.
text = text.rstrip() + '\n  metricsConfig: |\n    port: 19090\n'
open(sys.argv[2], 'w').write(text)
EOF
  create_yaml "/api/v1/namespaces/$KFP_NS/configmaps" <"$k/argo-configmap.yaml"
  local token
  token=$(api POST "/api/v1/namespaces/$KFP_NS/serviceaccounts/ml-pipeline-persistenceagent/token" -H 'Content-Type: application/json' \
    --data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":86400}}' |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).status.token))')
  # No trailing newline: the agent sends the file as a header value.
  printf '%s' "$token" >"$k/tokens/persistenceagent-sa-token"
  chmod 600 "$k/tokens/persistenceagent-sa-token"
  # The API server's ScheduledWorkflow client out of cluster reads only $HOME/.kube/config.
  cp "$state/admin.kubeconfig" "$k/home/.kube/config"

  # --- images for the pods ---------------------------------------------------------------------------------------
  wait_for 20 "the registry" curl -sf "http://127.0.0.1:$reg_port/v2/"
  node "$here/kfp-images.mjs" "$kc" "127.0.0.1:$reg_port" >"$k/images.env" 2>"$state/logs/kfp-images.log" ||
    { cat "$state/logs/kfp-images.log" >&2; kfp_die "building the KFP images failed"; }
  # shellcheck disable=SC1091
  . "$k/images.env"

  # --- KFP and Argo ---------------------------------------------------------------------------------------------
  wait_for 60 "MariaDB" mariadb-admin --no-defaults --socket="$k/mysql.sock" -uroot ping
  wait_for 60 "SeaweedFS" curl -s -o /dev/null "http://$NODE_IP:$KFP_S3_PORT/"
  wait_for 60 "ML Metadata" grep -q ready "$state/logs/kfp-mlmd.log"
  kfp_apiserver kfp-apiserver mlpipeline ":$KFP_GRPC_PORT" "127.0.0.1:$KFP_HTTP_PORT" MULTIUSER=false
  # Multi-user mode, as KFP's multi-user manifests set it (params.env, deployment-patch.yaml, pipeline-install-config:
  # USERID_HEADER kubeflow-userid, USERID_PREFIX empty; TOKEN_REVIEW_AUDIENCE left at its default,
  # pipelines.kubeflow.org). Its TokenReview and SubjectAccessReview clients, like the Argo and core clients, take
  # in-cluster config, else KUBECONFIG (client/util.go → util.GetKubernetesConfig): the admin kubeconfig here. Started
  # beside the single-user one and awaited last, so `start --kfp` takes about as long as before.
  kfp_apiserver kfp-apiserver-mu mlpipeline_mu ":$(cat "$state/ports/kfp-mu-grpc")" "127.0.0.1:$(cat "$state/ports/kfp-mu-http")" \
    MULTIUSER=true KUBEFLOW_USERID_HEADER=kubeflow-userid KUBEFLOW_USERID_PREFIX= DEFAULTPIPELINERUNNERSERVICEACCOUNT=default-editor
  wait_for 120 "KFP's API server" curl -sf "http://127.0.0.1:$KFP_HTTP_PORT/apis/v2beta1/healthz"
  # The agent reads its token from a fixed path: a private mount namespace puts it there without touching the host.
  launch kfp-persistence-agent env KUBECONFIG="$state/admin.kubeconfig" unshare --mount --propagation private sh -c '
    mount -t tmpfs -o size=1m tmpfs /run && mkdir -p /run/secrets/kubeflow/tokens &&
    cp "$0" /run/secrets/kubeflow/tokens/persistenceagent-sa-token && exec "$@"' \
    "$k/tokens/persistenceagent-sa-token" "$kc/bin/persistence" --kubeconfig "$state/admin.kubeconfig" --namespace $KFP_NS \
    --mlPipelineAPIServerName 127.0.0.1 --mlPipelineServiceHttpPort $KFP_HTTP_PORT --mlPipelineServiceGRPCPort $KFP_GRPC_PORT \
    --numWorker 2 --logtostderr=true
  launch kfp-scheduledworkflow env KUBECONFIG="$state/admin.kubeconfig" "$kc/bin/scheduledworkflow" \
    --kubeconfig "$state/admin.kubeconfig" --namespace $KFP_NS --mlPipelineAPIServerName 127.0.0.1 \
    --mlPipelineServiceGRPCPort $KFP_GRPC_PORT --logtostderr=true
  free_port >"$state/ports/kfp-argo-metrics"; free_port >"$state/ports/kfp-argo-health"
  launch kfp-workflow-controller env LEADER_ELECTION_DISABLE=true KUBECONFIG="$state/admin.kubeconfig" \
    "$kc/bin/workflow-controller" --kubeconfig "$state/admin.kubeconfig" --namespace $KFP_NS \
    --configmap workflow-controller-configmap --executor-image "$KFP_ARGOEXEC_IMAGE" --executor-image-pull-policy IfNotPresent \
    --loglevel info
  sleep 1
  local p
  for p in kfp-persistence-agent kfp-scheduledworkflow kfp-workflow-controller; do
    running "$p" || { tail -20 "$state/logs/$p.log" >&2; kfp_die "$p exited at start"; }
  done
  kfp_multi_user_namespaces
  wait_for 120 "KFP's multi-user API server" curl -sf "http://127.0.0.1:$(cat "$state/ports/kfp-mu-http")/apis/v2beta1/healthz"
  kfp_profiles >"$k/profiles.yaml"
  log "Kubeflow Pipelines 2.17.0 ready after $(node -e "console.log((Date.now()/1000-$t0).toFixed(1))")s (API http://127.0.0.1:$KFP_HTTP_PORT)"
}

# kfp_apiserver NAME DATABASE RPC_FLAG HTTP_FLAG ENV…: one KFP API server on this stack's database (its own, made on
# first start), object store and images; the rest of its settings (MULTIUSER, …) come from ENV.
kfp_apiserver() {
  local name=$1 db=$2 rpc=$3 http=$4 k=$state/kfp kc hosts patch; shift 4
  kc=$(cat "$k/cache-dir")
  hosts=$(printf '"%s",' "${KFP_HOSTS[@]}")
  patch="{\"hostAliases\":[{\"ip\":\"$NODE_IP\",\"hostnames\":[${hosts%,}]}]}"
  launch "$name" env -i PATH="$PATH" HOME="$k/home" KUBECONFIG="$state/admin.kubeconfig" \
    POD_NAMESPACE=$KFP_NS CLUSTER_DOMAIN=cluster.local LOG_LEVEL=info PUBLISH_LOGS=true \
    DB_DRIVER_NAME=mysql DBCONFIG_MYSQLCONFIG_HOST=127.0.0.1 DBCONFIG_MYSQLCONFIG_PORT="$(cat "$state/ports/kfp-mysql")" \
    DBCONFIG_MYSQLCONFIG_USER=root DBCONFIG_MYSQLCONFIG_PASSWORD= DBCONFIG_MYSQLCONFIG_DBNAME="$db" \
    OBJECTSTORECONFIG_HOST="$NODE_IP" OBJECTSTORECONFIG_PORT=$KFP_S3_PORT OBJECTSTORECONFIG_SECURE=false \
    OBJECTSTORECONFIG_ACCESSKEY=kfp-test OBJECTSTORECONFIG_SECRETACCESSKEY="$(cat "$k/s3.secret")" OBJECTSTORECONFIG_BUCKETNAME=mlpipeline \
    V2_DRIVER_IMAGE="$KFP_DRIVER_IMAGE" V2_LAUNCHER_IMAGE="$KFP_LAUNCHER_IMAGE" \
    ML_PIPELINE_VISUALIZATIONSERVER_SERVICE_HOST=127.0.0.1 ML_PIPELINE_VISUALIZATIONSERVER_SERVICE_PORT=8889 \
    COMPILED_PIPELINE_SPEC_PATCH="$patch" "$@" \
    "$kc/bin/apiserver" --config="$kc/config" --rpcPortFlag="$rpc" --httpPortFlag="$http" --logtostderr=true
}

# What a Kubeflow profile makes of a namespace, for the multi-user API server: the namespace, its service account
# default-editor, and a RoleBinding of it to KFP's edit rules (manifests/kustomize/base/installs/multi-user/
# view-edit-cluster-roles.yaml: kubeflow-pipelines-edit aggregates the edit and the view rules; here one ClusterRole
# holds both, so nothing waits for the aggregation controller). Tokens are asked for by the tests (TokenRequest,
# audience pipelines.kubeflow.org), never written here.
kfp_multi_user_namespaces() {
  create_yaml /apis/rbac.authorization.k8s.io/v1/clusterroles <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cellpipe-test-pipelines-edit}
rules:
- {apiGroups: [pipelines.kubeflow.org], resources: [pipelines, pipelineversions], verbs: [create, delete, update, get, list]}
- {apiGroups: [pipelines.kubeflow.org], resources: [experiments], verbs: [archive, create, delete, unarchive, get, list]}
- {apiGroups: [pipelines.kubeflow.org], resources: [runs], verbs: [archive, create, delete, retry, terminate, unarchive, reportMetrics, readArtifact, get, list]}
- {apiGroups: [pipelines.kubeflow.org], resources: [jobs], verbs: [create, delete, disable, enable, get, list]}
- {apiGroups: [pipelines.kubeflow.org], resources: [visualizations], verbs: [create]}
- {apiGroups: [kubeflow.org], resources: [scheduledworkflows], verbs: ["*"]}
- {apiGroups: [kubeflow.org], resources: [viewers], verbs: [create, get, delete]}
- {apiGroups: [argoproj.io], resources: [cronworkflows, cronworkflows/finalizers, workflows, workflows/finalizers, workfloweventbindings, workflowtemplates, workflowtaskresults], verbs: ["*"]}
EOF
  local ns
  for ns in "${KFP_MU_NAMESPACES[@]}"; do
    create_yaml /api/v1/namespaces <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: $ns}
EOF
    create_yaml "/api/v1/namespaces/$ns/serviceaccounts" <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: default-editor}
EOF
    create_yaml "/apis/rbac.authorization.k8s.io/v1/namespaces/$ns/rolebindings" <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: default-editor-pipelines-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cellpipe-test-pipelines-edit}
subjects:
- {kind: ServiceAccount, name: default-editor, namespace: $ns}
EOF
  done
}

# The profile `test`: this cluster's KFP (single-user: runs and their pods in namespace kubeflow) and registry.
kfp_profiles() {
  local reg; reg=127.0.0.1:$(cat "$state/ports/kfp-registry")
  cat <<EOF
profiles:
  test:
    kubeconfig: $state/admin.kubeconfig
    namespace: $KFP_NS
    registry: $reg/cellpipe/steps
    insecureRegistry: true
    baseImage: $KFP_BASE_IMAGE
    build: buildah
    kfp:
      host: http://127.0.0.1:$KFP_HTTP_PORT
      auth: none
EOF
}

kfp_stop() {
  [ -d "$state/kfp" ] || return 0
  local p
  for p in "${KFP_PROCS[@]}"; do [ ! -f "$state/pids/$p" ] || kill "$(cat "$state/pids/$p")" 2>/dev/null || true; done
  for p in "${KFP_PROCS[@]}"; do stop_pid "$p"; done
  kfp_drop_stale_rules
}

kfp_env() {
  [ -f "$state/kfp/profiles.yaml" ] || return 0
  cat <<EOF
export CELLPIPE_PROFILES=$state/kfp/profiles.yaml
export CELLPIPE_KFP_HOST=http://127.0.0.1:$KFP_HTTP_PORT
export CELLPIPE_KFP_NAMESPACE=$KFP_NS
export CELLPIPE_KFP_S3=http://$NODE_IP:$KFP_S3_PORT
export CELLPIPE_KFP_REGISTRY=127.0.0.1:$(cat "$state/ports/kfp-registry")
export CELLPIPE_KFP_MU_HOST=http://127.0.0.1:$(cat "$state/ports/kfp-mu-http")
export CELLPIPE_KFP_MU_NAMESPACES="${KFP_MU_NAMESPACES[*]}"
EOF
  cat "$state/kfp/images.env"
}
