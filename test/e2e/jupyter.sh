# Sourced by scripts/test-e2e.sh and bench/lab.sh: start/stop a real JupyterLab (from .venv, with cellpipe installed
# the way a user installs it) on 127.0.0.1, a random port and a known token, over a temporary root directory.
# After `jupyter_start ROOT`: JUPYTER_URL (ends in /), JUPYTER_TOKEN, JUPYTER_PID are set. `jupyter_stop` ends it and
# everything it started (its process group: the proxied Node backend and kernels).

jupyter_start() {
  local root=$1
  local repo; repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local venv="$repo/.venv/bin"
  # Development only: CELLPIPE_DEV_LABEXT_DIR=<dir holding cellpipe/ → a built labextension> loads an uninstalled build.
  local extra=()
  if [ -n "${CELLPIPE_DEV_LABEXT_DIR:-}" ]; then
    extra=(--LabServerApp.extra_labextensions_path="$CELLPIPE_DEV_LABEXT_DIR")
  elif ! "$venv/jupyter" labextension list 2>&1 | grep -q 'cellpipe.*enabled'; then
    echo "cellpipe's labextension is not installed in .venv — run: bash scripts/setup.sh" >&2
    return 1
  fi
  JUPYTER_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  local port; port=$("$venv/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  JUPYTER_URL="http://127.0.0.1:$port/"
  JUPYTER_STATE=$(mktemp -d)
  JUPYTER_LOG="$JUPYTER_STATE/jupyter.log"
  # No "get notified about Jupyter news?" toast over what the tests look at.
  mkdir -p "$JUPYTER_STATE/settings/@jupyterlab/apputils-extension"
  echo '{"fetchNews": "false", "checkForUpdates": false}' > "$JUPYTER_STATE/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
  # setsid: the server leads its own process group, so stopping it stops what it spawned and nothing else.
  PATH="$venv:$PATH" \
  JUPYTERLAB_SETTINGS_DIR="$JUPYTER_STATE/settings" JUPYTERLAB_WORKSPACES_DIR="$JUPYTER_STATE/workspaces" \
  JUPYTER_RUNTIME_DIR="$JUPYTER_STATE/runtime" \
    setsid "$venv/jupyter" lab --no-browser --ip=127.0.0.1 --port="$port" --ServerApp.port_retries=0 --allow-root \
      --IdentityProvider.token="$JUPYTER_TOKEN" --ServerApp.root_dir="$root" \
      --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate "${extra[@]}" \
      >"$JUPYTER_LOG" 2>&1 &
  JUPYTER_PID=$!
  export JUPYTER_URL JUPYTER_TOKEN JUPYTER_PID JUPYTER_LOG
  for _ in $(seq 1 360); do
    if curl -fsS -o /dev/null "${JUPYTER_URL}api/status?token=$JUPYTER_TOKEN" 2>/dev/null; then return 0; fi
    if ! kill -0 "$JUPYTER_PID" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "JupyterLab did not start; its log:" >&2
  tail -40 "$JUPYTER_LOG" >&2
  jupyter_stop
  return 1
}

# Ends the process group PID leads (a server and everything it spawned): TERM, then KILL what is left after 10 s.
stop_process_group() {
  kill -TERM -- "-$1" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$1" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$1" 2>/dev/null
}

jupyter_stop() {
  [ -n "${JUPYTER_PID:-}" ] || return 0
  stop_process_group "$JUPYTER_PID"
  JUPYTER_PID=
  rm -rf "${JUPYTER_STATE:-/nonexistent}"
}
