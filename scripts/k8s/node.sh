# Sourced by cluster.sh: the test cluster's real node — Debian's containerd (runc) and the kubelet built with the
# control plane — so pods run real containers. Every setting below was found necessary on these machines; see
# ../shared/ref/kubernetes-real-node.md for the error each one answers.
#
# Traffic stays on this machine: the node's address lives on a bridge this script creates (no egress NAT, no route
# off it), pods get addresses on that bridge from the CNI bridge plugin, images come from registries on 127.0.0.1.
# One real node per machine at a time: the kubelet's device-plugin socket and containerd's shim FIFOs live at fixed
# paths outside the state directory. A lock held by the node's processes says whether one is running.
#
# Needs from cluster.sh: $state, $here, log, die, launch, wait_for, api, kubeconfig, free_port, stop_pid, node_ready,
# $state/pki/ca.*.

REAL_NODE=cellpipe-node-0
NODE_BRIDGE=cellpipe0
NODE_SUBNET=10.201.0
NODE_IP=$NODE_SUBNET.1
NODE_LOCK=/run/cellpipe-k8s-node.lock
# Paths the kubelet and containerd write outside the state directory whatever their configuration.
NODE_OUTSIDE_PATHS=(/run/containerd /var/lib/kubelet /var/log/containers)
NODE_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)

node_prerequisites() {
  [ "$(id -u)" = 0 ] || die "the real node needs root (containers, mounts, a bridge); run as root or set CELLPIPE_K8S_NODE=kwok"
  local missing=()
  for tool in containerd ctr runc ip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  [ -x /bin/busybox ] || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] || die "missing for the real node: ${missing[*]} — run: bash scripts/setup.sh"
}

# The sandbox and test images, made once per machine (node-images.sh) and imported into this node's containerd.
node_images() {
  local cache=${CELLPIPE_K8S_CACHE:-$HOME/.cache/cellpipe/k8s}/node-images
  bash "$here/node-images.sh" "$cache"
  for img in pause busybox; do
    ctr --address "$state/containerd/containerd.sock" -n k8s.io images import --no-unpack=false "$cache/$img.tar" >/dev/null
  done
}

node_pki() {
  local d=$state/pki
  # The kubelet's serving certificate (the API server reaches it at the bridge address for logs and exec) and the
  # API server's client certificate for the kubelet (system:masters, so the kubelet's webhook authorizes it).
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$REAL_NODE" -keyout "$d/kubelet.key" -out "$d/kubelet.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,DNS:%s\n' "$NODE_IP" "$REAL_NODE" >"$d/kubelet-san.ext"
  openssl x509 -req -in "$d/kubelet.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$d/kubelet-san.ext" -out "$d/kubelet.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    -keyout "$d/apiserver-kubelet-client.key" -out "$d/apiserver-kubelet-client.csr" 2>/dev/null
  openssl x509 -req -in "$d/apiserver-kubelet-client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3650 -out "$d/apiserver-kubelet-client.crt" 2>/dev/null
  chmod 600 "$d"/*.key
}

# Flags the API server needs for a real node: the Node authorizer, and a client certificate for logs/exec.
node_apiserver_flags() {
  echo --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --kubelet-client-certificate "$state/pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$state/pki/apiserver-kubelet-client.key"
}

node_bridge_up() {
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link delete "$NODE_BRIDGE"
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
}

node_containerd_config() {
  local c=$state/containerd
  mkdir -p "$c"/{root,state,opt,runc} "$state/cni/net.d" "$state/cni/ipam"
  # Plain HTTP to registries on 127.0.0.1: one hosts.toml per registry; tests add theirs (CELLPIPE_K8S_REGISTRY_CONFIG).
  mkdir -p "$state/certs.d"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$c/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "cellpipe.local/pause:1"
  # Lowering oom_score_adj needs CAP_SYS_RESOURCE, which root here lacks: without this every sandbox fails.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
        Root = "$c/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$state/certs.d"
EOF
  # A default route via the bridge, as a cluster's CNI gives pods: Service IPs (the `kubernetes` Service, 10.0.0.1,
  # which Argo's wait container and KFP's driver call) are outside the pod /24, and without it every connection to
  # them fails with "network is unreachable".
  cat >"$state/cni/net.d/10-cellpipe.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "cellpipe",
  "plugins": [{
    "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": "$state/cni/ipam",
             "ranges": [[{"subnet": "$NODE_SUBNET.0/24", "gateway": "$NODE_IP", "rangeStart": "$NODE_SUBNET.10"}]],
             "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
EOF
}

node_kubelet_config() {
  local k=$state/kubelet
  mkdir -p "$k/root" "$state/pod-logs-real"
  cat >"$k/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $(cat "$state/ports/kubelet")
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(cat "$state/ports/kubelet-healthz")
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $state/pki/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $state/pki/kubelet.crt
tlsPrivateKeyFile: $state/pki/kubelet.key
containerRuntimeEndpoint: unix://$state/containerd/containerd.sock
cgroupDriver: cgroupfs
# Without QoS cgroups the kubelet leaves nothing behind under /sys/fs/cgroup when it stops.
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
makeIPTablesUtilChains: false
podLogsDir: $state/pod-logs-real
serializeImagePulls: false
# The bounded-memory test prints ~13 MiB to one log; rotating at the default 10 MiB would split it.
containerLogMaxSize: 64Mi
# A test machine's disk may be nearly full: never evict test pods or delete images for disk pressure.
evictionHard: {memory.available: "50Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
staticPodPath: ""
resolvConf: ""
maxPods: 110
EOF
  kubeconfig "$state/kubelet.kubeconfig" "system:node:$REAL_NODE" "$(cat "$state/node.token")"
}

node_save_outside_state() {
  : >"$state/node-outside"
  for p in "${NODE_OUTSIDE_PATHS[@]}"; do [ -e "$p" ] && echo "$p" >>"$state/node-outside"; done
  : >"$state/node-sysctls"
  for s in "${NODE_SYSCTLS[@]}"; do echo "$s=$(sysctl -n "$s")" >>"$state/node-sysctls"; done
}

# Called before the API server starts: the node's token and certificates must be in place.
node_prepare() {
  node_prerequisites
  exec 8>"$NODE_LOCK"
  flock -n 8 || die "another real test node is running on this machine (lock $NODE_LOCK held by pid(s) $(fuser "$NODE_LOCK" 2>/dev/null | xargs)); stop it with its cluster.sh stop"
  free_port >"$state/ports/kubelet"; free_port >"$state/ports/kubelet-healthz"
  head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$state/node.token"
  chmod 600 "$state/node.token"
  echo "$(cat "$state/node.token"),system:node:$REAL_NODE,node-uid,system:nodes" >>"$state/pki/tokens.csv"
  node_pki
  node_save_outside_state
  node_bridge_up
}

# Called once the API server is ready: containerd, the images, the kubelet; returns when the node is Ready.
node_start() {
  node_containerd_config
  launch containerd containerd --config "$state/containerd/config.toml"
  wait_for 30 "containerd" ctr --address "$state/containerd/containerd.sock" version
  node_images
  node_kubelet_config
  launch kubelet "$KUBELET_BIN" --config "$state/kubelet/config.yaml" --kubeconfig "$state/kubelet.kubeconfig" \
    --root-dir "$state/kubelet/root" --hostname-override "$REAL_NODE" --node-ip "$NODE_IP" --v 1
  # The node's processes hold the lock; this script lets go of it.
  exec 8>&-
  wait_for 90 "the real node $REAL_NODE" node_ready "$REAL_NODE"
}

# Stops what node_start started and undoes what it changed outside the state directory. Safe to call on a node
# that crashed halfway, or twice.
node_stop() {
  [ -d "$state" ] || return 0
  local pid
  stop_pid kubelet
  # Containers outlive containerd (each has its shim): kill them through runc, then their shims.
  local runc_root=$state/containerd/runc/k8s.io id
  if [ -d "$runc_root" ]; then
    for id in $(runc --root "$runc_root" list -q 2>/dev/null); do
      runc --root "$runc_root" kill "$id" KILL 2>/dev/null || true
      runc --root "$runc_root" delete -f "$id" 2>/dev/null || true
    done
  fi
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $state/containerd/containerd.sock" || true); do kill -9 "$pid" 2>/dev/null || true; done
  stop_pid containerd # it sometimes ignores the first SIGTERM
  # Mounts under the state directory (rootfs overlays, netns, shm, secrets), deepest first.
  awk -v s="$state/" 'index($2, s) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && ip link delete "$NODE_BRIDGE" 2>/dev/null || true
  if [ -f "$state/node-sysctls" ]; then
    while IFS== read -r key value; do sysctl -q -w "$key=$value" >/dev/null 2>&1 || true; done <"$state/node-sysctls"
  fi
  if [ -f "$state/node-outside" ]; then
    for p in "${NODE_OUTSIDE_PATHS[@]}"; do grep -qxF "$p" "$state/node-outside" || rm -rf "$p"; done
    # A directory that was there before keeps what was in it; only links into this state directory go.
    if [ -d /var/log/containers ]; then
      find /var/log/containers -maxdepth 1 -type l -lname "$state/*" -delete 2>/dev/null || true
    fi
  fi
}
