#!/usr/bin/env bash
# Builds the test cluster's binaries once per machine and caches them under ~/.cache/cellpipe/k8s/<version>/bin:
# kube-apiserver, kube-controller-manager, kube-scheduler and kubelet (k8s.io/kubernetes through the wrapper module
# in ./kube), kwok (sigs.k8s.io/kwok v0.7.0) and kaniko's executor (github.com/GoogleContainerTools/kaniko through
# ./kaniko; the kaniko tests put it in an image and run it on the real node). etcd comes from Debian's etcd-server
# (3.4, accepted by the 1.33 apiserver).
# Prints the bin directory on stdout. Idempotent: a binary already in the cache is never rebuilt.
# Env: CELLPIPE_K8S_CACHE (default ~/.cache/cellpipe/k8s), CELLPIPE_K8S_JOBS (go build -p, default: number of cores).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=v1.33.13
KWOK_VERSION=v0.7.0
KANIKO_VERSION=v1.23.2
cache=${CELLPIPE_K8S_CACHE:-$HOME/.cache/cellpipe/k8s}/$K8S_VERSION
bin=$cache/bin
log() { printf '\033[1m[k8s-build]\033[0m %s\n' "$*" >&2; }

need=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kwok kaniko-executor; do [ -x "$bin/$b" ] || need+=("$b"); done
[ -f "$bin/crd/kwok.x-k8s.io_clusterlogs.yaml" ] || [[ " ${need[*]} " == *" kwok "* ]] || need+=(kwok)
if [ ${#need[@]} -eq 0 ]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "k8s-build: Go is not installed (need Go >= 1.24; /usr/local/go/bin/go)" >&2; exit 1; }
mkdir -p "$bin" "$cache/tmp"
exec 9>"$cache/.build.lock"
flock 9
# Own build cache, so cleaning ~/.cache/go-build does not force a rebuild of Kubernetes and vice versa.
export GOCACHE=$cache/go-build GOFLAGS=-trimpath CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
jobs=${CELLPIPE_K8S_JOBS:-$(nproc)}
start=$(date +%s)

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

kube=()
for b in "${need[@]}"; do [ "$b" = kwok ] || [ "$b" = kaniko-executor ] || kube+=("k8s.io/kubernetes/cmd/$b"); done
if [ ${#kube[@]} -gt 0 ]; then
  # The module cache is read-only; work on a copy of the wrapper so go.sum can be written outside the repository.
  work=$cache/tmp/kube-wrapper
  rm -rf "$work"; mkdir -p "$work"; cp "$here/kube/go.mod" "$here/kube/doc.go" "$work/"
  [ -f "$here/kube/go.sum" ] && cp "$here/kube/go.sum" "$work/"
  log "building ${kube[*]##*/} $K8S_VERSION (first run only; about 10-20 min on 2 cores)"
  (cd "$work" && go mod download k8s.io/kubernetes && \
    nice -n 10 go build -mod=mod -p "$jobs" -ldflags "$ldflags" -o "$cache/tmp/" "${kube[@]}")
  for p in "${kube[@]}"; do mv "$cache/tmp/${p##*/}" "$bin/"; done
fi
if [[ " ${need[*]} " == *" kwok "* ]]; then
  log "building kwok $KWOK_VERSION"
  GOBIN=$cache/tmp nice -n 10 go install -p "$jobs" \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$cache/tmp/kwok" "$bin/"
  # The Logs and ClusterLogs CRDs from the same KWOK release (cluster.sh installs them).
  src=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/crd/bases
  mkdir -p "$bin/crd"; cp "$src/kwok.x-k8s.io_logs.yaml" "$src/kwok.x-k8s.io_clusterlogs.yaml" "$bin/crd/"
  chmod 644 "$bin/crd/"*
fi
if [[ " ${need[*]} " == *" kaniko-executor "* ]]; then
  log "building kaniko's executor $KANIKO_VERSION"
  work=$cache/tmp/kaniko-wrapper
  rm -rf "$work"; mkdir -p "$work"; cp "$here/kaniko/go.mod" "$here/kaniko/go.sum" "$here/kaniko/doc.go" "$work/"
  (cd "$work" && nice -n 10 go build -mod=mod -p "$jobs" -ldflags "-s -w" -o "$cache/tmp/kaniko-executor" \
    github.com/GoogleContainerTools/kaniko/cmd/executor)
  mv "$cache/tmp/kaniko-executor" "$bin/"
fi
log "built ${need[*]} in $(( $(date +%s) - start ))s"
echo "$bin"
