#!/usr/bin/env bash
# Builds cellpipe's JupyterLab extension and installs the cellpipe Python package into .venv the way a user
# installs it, so that `jupyter labextension list` shows cellpipe enabled and Jupyter serves the backend at
# <base_url>cellpipe/ (jupyter-server-proxy entry point). Called by scripts/setup.sh after the TypeScript build.
#
# The Python package is installed editable (`pip install -e python/`): the Jupyter glue then runs the Node
# backend from this checkout (bin/cellpipe.js + lib/). Idempotent: rebuilds and reinstalls only what changed.
#
#   bash scripts/build-labextension.sh               build + install into .venv + check
#   bash scripts/build-labextension.sh --build-only  only build python/cellpipe/labextension, with the JupyterLab
#                                                    of .venv or else of the python3 on PATH (for wheel builds)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log() { printf '\033[1m[labextension]\033[0m %s\n' "$*" >&2; }
build_only=
[ "${1:-}" = "--build-only" ] && build_only=1
py=.venv/bin/python
export PATH="$root/.venv/bin:$PATH"
if [ ! -x "$py" ]; then
  if [ -n "$build_only" ]; then py=python3; else
    echo "build-labextension: .venv is missing; run bash scripts/setup.sh" >&2; exit 1
  fi
fi
[ -f lib/lab/index.js ] || { echo "build-labextension: lib/lab/index.js is missing; run npm run build:lib first" >&2; exit 1; }

# --- 1. the labextension (webpack, ~1-2 min): only when its inputs changed ------------------------------------
out=python/cellpipe/labextension
built="$out/package.json"
stale=1
if [ -f "$built" ] && [ -z "$(find lib/lab lib/core lib/runs/types.js lib/runs/compare.js schema style package.json -newer "$built" -print -quit 2>/dev/null)" ]; then
  stale=0
fi
if [ "$stale" = 1 ]; then
  log "building the labextension into $out"
  # Build against the JupyterLab that will load the extension (its shared package versions), from its own
  # package definition: JupyterLab >= 4.6 would otherwise look the core packages up on the network.
  core=$($py -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging", "package.json"))')
  if command -v jupyter-builder >/dev/null 2>&1; then
    nice jupyter-builder build --core-package-file "$core" . >/tmp/cellpipe-labextension-build.log 2>&1 \
      || { tail -40 /tmp/cellpipe-labextension-build.log >&2; exit 1; }
  else
    nice jupyter labextension build . >/tmp/cellpipe-labextension-build.log 2>&1 \
      || { tail -40 /tmp/cellpipe-labextension-build.log >&2; exit 1; }
  fi
  touch "$built"
fi
# Node-only code must never reach the browser bundle.
if grep -l -E '@kubernetes/client-node|tar-stream' "$out"/static/*.js >/dev/null 2>&1; then
  echo "build-labextension: Node-only packages ended up in the browser bundle ($out/static)" >&2
  exit 1
fi

[ -n "$build_only" ] && exit 0

# --- 2. the Python package, editable, from python/ ----------------------------------------------------------
stamp=.venv/.cellpipe-package
want=$(cat python/pyproject.toml python/jupyter-config/server-config/*.json | sha256sum | cut -c1-16)
installed_from=$($py - <<'PY' 2>/dev/null || true
import json
from importlib.metadata import distribution
try:
    d = distribution("cellpipe")
    print(json.loads(d.read_text("direct_url.json") or "{}").get("url", ""))
except Exception:
    pass
PY
)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ "$installed_from" != "file://$root/python" ]; then
  log "pip install -e python/"
  # Build requirements (hatchling, hatch-jupyter-builder) are in python/requirements-dev.txt; the labextension
  # is already built, so the build hook must not run npm.
  HATCH_JUPYTER_BUILDER_SKIP_NPM=1 $py -m pip install -q --no-build-isolation -e python/
  echo "$want" > "$stamp"
fi

# An editable install does not copy shared data: link the labextension and the server config into .venv.
prefix=$($py -c 'import sys; print(sys.prefix)')
mkdir -p "$prefix/share/jupyter/labextensions" "$prefix/etc/jupyter/jupyter_server_config.d"
# (pip may have copied a real directory there earlier; a link inside it would leave the stale copy served)
target="$prefix/share/jupyter/labextensions/cellpipe"
[ -L "$target" ] || rm -rf "$target"
ln -sfn "$root/$out" "$target"
cp python/jupyter-config/server-config/cellpipe.json "$prefix/etc/jupyter/jupyter_server_config.d/cellpipe.json"
# This JupyterLab is cellpipe's own (.venv): its first screen shows the example, not a "get Jupyter news?" prompt over
# it. Settings overrides of the environment (JupyterLab reads <prefix>/share/jupyter/lab/settings/overrides.json);
# a user's own settings still win.
mkdir -p "$prefix/share/jupyter/lab/settings"
cat > "$prefix/share/jupyter/lab/settings/overrides.json" <<'JSON'
{
  "@jupyterlab/apputils-extension:notification": { "fetchNews": "false", "checkForUpdates": false }
}
JSON

# --- 3. check what a user would check -----------------------------------------------------------------------
plain() { "$@" 2>&1 | sed 's/\x1b\[[0-9;]*m//g'; }
if ! plain jupyter labextension list | grep -E '^\s+cellpipe v[0-9.]+ enabled\s+OK' >/dev/null; then
  plain jupyter labextension list >&2 || true
  echo "build-labextension: cellpipe is not listed as an enabled labextension" >&2
  exit 1
fi
if ! plain jupyter server extension list | grep -E '^\s+cellpipe enabled' >/dev/null; then
  plain jupyter server extension list >&2 || true
  echo "build-labextension: the cellpipe server extension is not enabled" >&2
  exit 1
fi
if ! $py -c 'from importlib.metadata import entry_points as e; import sys; sys.exit(not any(p.name == "cellpipe" for p in e(group="jupyter_serverproxy_servers")))'; then
  echo "build-labextension: jupyter-server-proxy does not see the cellpipe server (entry point missing)" >&2
  exit 1
fi
log "cellpipe installed in .venv (labextension + server glue)"
