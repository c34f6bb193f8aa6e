#!/usr/bin/env bash
# The main job, on a fresh machine: install what is missing, run the example pipeline headless with the CLI,
# then serve JupyterLab with cellpipe and the example notebook (local runtime) until Ctrl-C.
#   bash scripts/start.sh                       # JupyterLab on http://127.0.0.1:8888/ (the URL with its token comes last)
#   CELLPIPE_NO_LAB=1 bash scripts/start.sh     # only the headless run
# Environment: CELLPIPE_PORT (default 8888), JUPYTER_TOKEN (Jupyter's own variable; default: a new random token).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
heading() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

bash scripts/setup.sh
export PATH="$repo/.venv/bin:$PATH"
heading "headless run: cellpipe run examples/quickstart.ipynb"
node bin/cellpipe.js run examples/quickstart.ipynb
[ -n "${CELLPIPE_NO_LAB:-}" ] && exit 0

port=${CELLPIPE_PORT:-8888}
export JUPYTER_TOKEN=${JUPYTER_TOKEN:-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}
lab_log=${TMPDIR:-/tmp}/cellpipe-jupyterlab-$port.log
url="http://127.0.0.1:$port/lab/tree/quickstart.ipynb?token=$JUPYTER_TOKEN"
heading "starting JupyterLab with cellpipe on 127.0.0.1:$port (its log: $lab_log)"
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
# Its own session (setsid), so Ctrl-C reaches this script alone, which then stops JupyterLab with everything it
# started (kernels, cellpipe's backend) instead of JupyterLab asking "Shutdown this Jupyter server (y/[n])?".
# The token travels in the environment (JUPYTER_TOKEN), never on a command line other users can read.
setsid jupyter lab "${root_flag[@]}" --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port="$port" \
  --ServerApp.port_retries=0 --ServerApp.root_dir="$repo/examples" \
  --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
  >"$lab_log" 2>&1 </dev/null &
lab=$!
stop_lab() {
  trap - INT TERM
  kill -0 "$lab" 2>/dev/null || return 0
  printf '\nstopping JupyterLab …\n'
  kill -TERM -- "-$lab" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$lab" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$lab" 2>/dev/null || true
  wait "$lab" 2>/dev/null || true
  echo "JupyterLab stopped."
}
trap 'stop_lab; exit 0' INT TERM

ready=
for _ in $(seq 1 360); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/api/status?token=$JUPYTER_TOKEN" 2>/dev/null; then ready=1; break; fi
  kill -0 "$lab" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  stop_lab >/dev/null
  echo "JupyterLab did not start; the end of its log ($lab_log):" >&2
  grep -v -E '^\s*$' "$lab_log" | tail -15 >&2
  if grep -q -i 'address already in use\|is already in use\|not available' "$lab_log"; then
    echo "Port $port is taken: start on another one with CELLPIPE_PORT=8890 bash scripts/start.sh" >&2
  fi
  exit 1
fi

heading "JupyterLab is serving examples/ with cellpipe"
cat <<MSG
The example notebook quickstart.ipynb is open at the URL below. Open the cellpipe sidebar (its icon in the
left bar) and press Run: each step's log appears under its cells. Ctrl-C here stops JupyterLab.

    $url

MSG
wait "$lab" || true
trap - INT TERM
echo "JupyterLab exited; its log: $lab_log" >&2
exit 1
