#!/usr/bin/env bash
# Installs whatever is missing for cellpipe on this machine, idempotently:
# Debian packages (when root), a Python virtualenv in .venv, npm dependencies, and the build.
# Usage: bash scripts/setup.sh            (everything)
#        CELLPIPE_SKIP_APT=1 bash scripts/setup.sh   (no apt-get, e.g. without root)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- Debian packages: the real components the tests and the local tools use -------------------------------
apt_packages=(chromium docker-registry skopeo umoci buildah etcd-server apache2-utils openssl git ca-certificates curl)
if [ -z "${CELLPIPE_SKIP_APT:-}" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# --- Python: one virtualenv for JupyterLab, the cellpipe package and the Python-side tests --------------------
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
py=.venv/bin/python
stamp=.venv/.cellpipe-requirements
want=$(cat python/requirements-dev.txt python/pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "pip install (python/requirements-dev.txt)"
  $py -m pip install -q --upgrade pip
  $py -m pip install -q -r python/requirements-dev.txt
  # kfp-kubernetes only for its generated KubernetesExecutorConfig proto (spec validation); --no-deps keeps the
  # kfp SDK out of the environment — cellpipe never depends on it.
  $py -m pip install -q --no-deps kfp-kubernetes==2.17.3
  echo "$want" > "$stamp"
fi

# --- Node: exact dependencies from the lock file, then the build --------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "building (tsc)"
npm run -s build:lib
if [ -f scripts/build-labextension.sh ]; then
  bash scripts/build-labextension.sh
fi
log "ready"
