#!/usr/bin/env bash
# Makes the baseline tools the benchmarks compare against, each in its own venv outside the repository
# (never cellpipe's dependencies): Kale's compiler, kfp (kfp.local), Elyra.
# Usage: bash bench/setup-baselines.sh kale|kfp|elyra   → prints the venv's python path
set -euo pipefail
tool=${1:?kale, kfp or elyra}
base=${CELLPIPE_BENCH_HOME:-$HOME/.cache/cellpipe}
case $tool in
  kale) venv=$base/bench-kale; pkgs=(kubeflow-kale==2.3.0) ;;
  kfp) venv=$base/bench-venv; pkgs=(kfp==2.17.3) ;;
  elyra) venv=$base/bench-elyra; pkgs=(elyra==4.1.1)
    # a plain `pip install elyra` spends >25 min in pip's resolver (its extras); export needs only these
    extra=("kfp>=2.0.0,<2.15" kfp-kubernetes click==8.1.8 jinja2 minio nbformat networkx pyyaml jupyter_core
      jupyter_server traitlets entrypoints deprecation colorama yaspin jsonschema requests "urllib3>=2.5.0" autopep8
      watchdog websocket-client jupyter-events jupyter_client nbconvert nbclient papermill rfc3986-validator
      typing-extensions "black~=26.1") ;;
  *) echo "unknown baseline $tool" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip show "${pkgs[0]%%==*}" >/dev/null 2>&1; then
  echo "installing ${pkgs[*]} into $venv (once)" >&2
  python3 -m venv "$venv"
  if [ "$tool" = elyra ]; then
    "$venv/bin/python" -m pip install -q --no-deps "${pkgs[@]}" >&2
    "$venv/bin/python" -m pip install -q "${extra[@]}" >&2
  else
    "$venv/bin/python" -m pip install -q "${pkgs[@]}" >&2
  fi
fi
echo "$venv/bin/python"
