#!/usr/bin/env bash
# Builds Kubeflow Pipelines 2.17.0's own stack for `cluster.sh start --kfp`, once per machine, into
# ~/.cache/cellpipe/kfp/2.17.0 (override the root with CELLPIPE_KFP_CACHE):
#   bin/apiserver bin/persistence bin/scheduledworkflow bin/driver bin/launcher-v2
#        KFP 2.17.0 from the source archive ($CELLPIPE_KFP_SRC, default ../shared/tools/kfp-src/pipelines-2.17.0.tar.gz:
#        the Go module proxy refuses github.com/kubeflow/pipelines). Static (CGO_ENABLED=0, netgo): driver and
#        launcher go into images, the launcher into every step pod. The API server needs cgo (its storage code names
#        go-sqlite3's error types), though it runs on MySQL (MariaDB) here.
#   bin/workflow-controller bin/argoexec
#        Argo Workflows v4.0.5 (what KFP 2.17's go.mod pins) from the module proxy. The module zip drops upstream's
#        symlink workflow/executor/osspecific/signal_linux.go -> signal_darwin.go (argoexec then fails with
#        `undefined: Setpgid`), so the module is copied out of the cache and the file restored there.
#        Advisory: v4.0.5 has GHSA-48p8-g2fx-3wwm (ArtifactGC podSpecPatch allow-list bypass), fixed in 4.0.6, which
#        the proxy does not serve; irrelevant for this loopback test fixture (no ArtifactGC, no untrusted users).
#   bin/weed   SeaweedFS (KFP 2.17's object store) at the one version the module proxy serves.
#   crd/       Argo's CRDs (from its module) and KFP's ScheduledWorkflow CRD; config/ the API server's config.
#   mlmd/      a virtualenv with ml-metadata==1.17.1 (its C++ store; protobuf<5 keeps it apart from .venv).
# Prints the cache directory on stdout. Idempotent: what is already in the cache is never rebuilt.
# Env: CELLPIPE_KFP_CACHE, CELLPIPE_K8S_JOBS (go build -p, default: number of cores).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KFP_VERSION=2.17.0
ARGO_VERSION=v4.0.5
WEED_VERSION=v0.0.0-20261109003541-7506e5f91cd6
MLMD_VERSION=1.17.1
src_archive=${CELLPIPE_KFP_SRC:-$here/../../../shared/tools/kfp-src/pipelines-$KFP_VERSION.tar.gz}
cache=${CELLPIPE_KFP_CACHE:-$HOME/.cache/cellpipe/kfp}/$KFP_VERSION
bin=$cache/bin
log() { printf '\033[1m[kfp-build]\033[0m %s\n' "$*" >&2; }

kfp_bins=(apiserver persistence scheduledworkflow driver launcher-v2)
done_all() {
  local b
  for b in "${kfp_bins[@]}" workflow-controller argoexec weed; do [ -x "$bin/$b" ] || return 1; done
  [ -f "$cache/crd/done" ] && [ -f "$cache/config/config.json" ] && [ -x "$cache/mlmd/bin/python" ] && [ -f "$cache/mlmd/.done" ]
}
if done_all; then echo "$cache"; exit 0; fi

command -v go >/dev/null || { echo "kfp-build: Go is not installed (need Go >= 1.24)" >&2; exit 1; }
mkdir -p "$bin" "$cache/tmp" "$cache/crd" "$cache/config"
exec 9>"$cache/.build.lock"
flock 9
export GOCACHE=$cache/go-build GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS="-buildvcs=false -trimpath" CGO_ENABLED=0
jobs=${CELLPIPE_K8S_JOBS:-$(nproc)}
start=$(date +%s)
t() { echo "$(( $(date +%s) - $1 ))s"; }

# --- KFP 2.17.0 ------------------------------------------------------------------------------------------------
need_kfp=0
for b in "${kfp_bins[@]}"; do [ -x "$bin/$b" ] || need_kfp=1; done
kfp_src=$cache/tmp/pipelines-$KFP_VERSION
if [ $need_kfp = 1 ] || [ ! -f "$cache/config/config.json" ] || [ ! -f "$cache/crd/done" ]; then
  [ -f "$src_archive" ] || { echo "kfp-build: KFP's source archive is missing: $src_archive (set CELLPIPE_KFP_SRC)" >&2; exit 1; }
  if [ ! -f "$kfp_src/.unpacked" ]; then
    rm -rf "$kfp_src"; tar -xzf "$src_archive" -C "$cache/tmp"
    # go.mod requires third_party/ml-metadata by a pseudo-version the proxy refuses: the tree has it.
    (cd "$kfp_src" && go mod edit -replace github.com/kubeflow/pipelines/third_party/ml-metadata=./third_party/ml-metadata)
    touch "$kfp_src/.unpacked"
  fi
fi
if [ $need_kfp = 1 ]; then
  t0=$(date +%s)
  log "building KFP $KFP_VERSION: ${kfp_bins[*]} (first run only; ~6 min on 2 cores)"
  (cd "$kfp_src" && go mod download && nice -n 10 go build -p "$jobs" -tags netgo -ldflags "-s -w" -o "$cache/tmp/out/" \
    ./backend/src/agent/persistence ./backend/src/crd/controller/scheduledworkflow \
    ./backend/src/v2/cmd/driver ./backend/src/v2/cmd/launcher-v2)
  # The API server's storage code names sqlite3's error types, which exist only with cgo (it runs here on MySQL).
  (cd "$kfp_src" && CGO_ENABLED=1 nice -n 10 go build -p "$jobs" -ldflags "-s -w" -o "$cache/tmp/out/" ./backend/src/apiserver)
  for b in "${kfp_bins[@]}"; do mv "$cache/tmp/out/$b" "$bin/"; done
  log "KFP built in $(t "$t0")"
fi
if [ ! -f "$cache/config/config.json" ]; then
  # The API server's own config, minus the `plugins` (MLflow) block, which needs an MLflow server.
  python3 - "$kfp_src/backend/src/apiserver/config/config.json" "$cache/config/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("plugins", None)
json.dump(c, open(sys.argv[2], "w"), indent=2)
EOF
  cp "$kfp_src/backend/src/apiserver/config/sample_config.json" "$cache/config/" 2>/dev/null || true
fi

# --- Argo Workflows v4.0.5 ----------------------------------------------------------------------------------
if [ ! -x "$bin/workflow-controller" ] || [ ! -x "$bin/argoexec" ] || [ ! -f "$cache/crd/done" ]; then
  t0=$(date +%s)
  log "building Argo Workflows $ARGO_VERSION: workflow-controller, argoexec (first run only; ~4 min)"
  dir=$(cd "$cache/tmp" && go mod download -json "github.com/argoproj/argo-workflows/v4@$ARGO_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$cache/tmp/argo
  rm -rf "$work"; cp -r "$dir" "$work"; chmod -R u+w "$work"
  osd=$work/workflow/executor/osspecific
  [ -f "$osd/signal_linux.go" ] || cp "$osd/signal_darwin.go" "$osd/signal_linux.go"
  ldflags="-s -w -X github.com/argoproj/argo-workflows/v4.version=$ARGO_VERSION"
  (cd "$work" && nice -n 10 go build -p "$jobs" -ldflags "$ldflags" -o "$cache/tmp/out/" ./cmd/workflow-controller ./cmd/argoexec)
  mv "$cache/tmp/out/workflow-controller" "$cache/tmp/out/argoexec" "$bin/"
  cp "$work"/manifests/base/crds/full/argoproj.io_*.yaml "$cache/crd/"
  cp "$kfp_src"/manifests/kustomize/base/pipeline/cluster-scoped/scheduled-workflow-crd.yaml "$cache/crd/"
  cp "$kfp_src"/manifests/kustomize/third-party/argo/base/workflow-controller-configmap-patch.yaml "$cache/config/"
  chmod 644 "$cache/crd/"*.yaml
  touch "$cache/crd/done"
  rm -rf "$work"
  log "Argo built in $(t "$t0")"
fi

# --- SeaweedFS --------------------------------------------------------------------------------------------------
if [ ! -x "$bin/weed" ]; then
  t0=$(date +%s)
  log "building SeaweedFS (weed) $WEED_VERSION (first run only; ~6 min, 2.2 GB peak memory)"
  dir=$(cd "$cache/tmp" && go mod download -json "github.com/seaweedfs/seaweedfs@$WEED_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  # Built in its own module (the cache copy is read-only, so -o goes outside): upstream's go.mod carries the
  # replace directives it needs (go-bip39).
  (cd "$dir" && nice -n 10 go build -p "$jobs" -ldflags "-s -w" -o "$cache/tmp/out/weed" ./weed)
  mv "$cache/tmp/out/weed" "$bin/"
  log "SeaweedFS built in $(t "$t0")"
fi

# --- ML Metadata's store (a wheel) in its own virtualenv ---------------------------------------------------------
if [ ! -f "$cache/mlmd/.done" ]; then
  t0=$(date +%s)
  py=${CELLPIPE_MLMD_PYTHON:-python3.11}
  command -v "$py" >/dev/null || py=python3
  log "installing ml-metadata==$MLMD_VERSION into $cache/mlmd"
  rm -rf "$cache/mlmd"
  "$py" -m venv "$cache/mlmd"
  "$cache/mlmd/bin/python" -m pip install -q "ml-metadata==$MLMD_VERSION" "grpcio==1.76.0"
  touch "$cache/mlmd/.done"
  log "ml-metadata installed in $(t "$t0")"
fi
rm -rf "$cache/tmp/out"
log "KFP stack built in $(t "$start")"
echo "$cache"
