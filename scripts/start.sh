#!/usr/bin/env bash
# The main job, on a fresh machine: install what is missing, run the example pipeline headless with the CLI,
# then open JupyterLab with cellpipe and the example notebook (local runtime).
#   bash scripts/start.sh                 # JupyterLab on http://127.0.0.1:8888 (token printed by Jupyter)
#   CELLPIPE_NO_LAB=1 bash scripts/start.sh   # only the headless run
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
printf '\n\033[1m== headless run: cellpipe run examples/quickstart.ipynb\033[0m\n'
node bin/cellpipe.js run examples/quickstart.ipynb
[ -n "${CELLPIPE_NO_LAB:-}" ] && exit 0
printf '\n\033[1m== JupyterLab with cellpipe (Ctrl-C to stop)\033[0m\n'
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)
exec jupyter lab "${root_flag[@]}" --ServerApp.ip=127.0.0.1 --ServerApp.port="${PORT:-8888}" --no-browser \
  --ServerApp.root_dir="$PWD/examples" quickstart.ipynb
