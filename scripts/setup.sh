#!/usr/bin/env bash
# Installs whatever is missing for cellpipe on this machine, idempotently:
# Debian packages (when root), a Python virtualenv in .venv, npm dependencies, and the build.
# Usage: bash scripts/setup.sh            (everything)
#        CELLPIPE_SKIP_APT=1 bash scripts/setup.sh   (no apt-get, e.g. without root)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
# What the installers print goes to one log; the terminal gets a short progress list, and the log's tail when a step fails.
setup_log=${CELLPIPE_SETUP_LOG:-${XDG_CACHE_HOME:-$HOME/.cache}/cellpipe/setup.log}
mkdir -p "$(dirname "$setup_log")"
: > "$setup_log"
quiet() {
  if ! "$@" >>"$setup_log" 2>&1; then
    printf '\033[1m[setup]\033[0m failed: %s — the last lines of %s:\n' "$*" "$setup_log" >&2
    tail -25 "$setup_log" >&2
    exit 1
  fi
}

# --- Debian packages: the real components the tests and the local tools use -------------------------------
apt_packages=(chromium docker-registry skopeo umoci buildah runc mmdebstrap etcd-server apache2-utils openssl git ca-certificates curl
  containerd containernetworking-plugins busybox-static iproute2 mariadb-server iptables)
if [ -z "${CELLPIPE_SKIP_APT:-}" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    quiet apt-get update -q
    quiet env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# --- Python: one virtualenv for JupyterLab, the cellpipe package and the Python-side tests --------------------
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  quiet python3 -m venv .venv
fi
# .venv sits inside this checkout, whose package.json says "type": "module"; without a package boundary of its own,
# Node would load the CommonJS files Python packages ship (jupyter_builder's yarn.js, run by `jupyter labextension`)
# as ES modules and fail. A package.json in .venv makes it its own (CommonJS) package scope, as Node resolves scopes.
[ -f .venv/package.json ] || echo '{"type": "commonjs"}' > .venv/package.json
py=.venv/bin/python
stamp=.venv/.cellpipe-requirements
want=$(cat python/requirements-dev.txt python/pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install (python/requirements-dev.txt)"
  quiet $py -m pip install -q --upgrade pip
  quiet $py -m pip install -q -r python/requirements-dev.txt
  # kfp-kubernetes only for its generated KubernetesExecutorConfig proto (spec validation); --no-deps keeps the
  # kfp SDK out of the environment — cellpipe never depends on it.
  quiet $py -m pip install -q --no-deps kfp-kubernetes==2.17.3
  echo "$want" > "$stamp"
fi

# --- Node: exact dependencies from the lock file, then the build --------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  quiet npm ci --no-audit --no-fund --loglevel=error
fi
log "building (tsc)"
quiet npm run -s build:lib
if [ -f scripts/build-labextension.sh ]; then
  bash scripts/build-labextension.sh
fi
log "ready"
