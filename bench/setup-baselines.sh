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
  elyra) venv=$base/bench-elyra; pkgs=(elyra==4.1.1) ;;
  *) echo "unknown baseline $tool" >&2; exit 2 ;;
esac
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip show "${pkgs[0]%%==*}" >/dev/null 2>&1; then
  echo "installing ${pkgs[*]} into $venv (once)" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q "${pkgs[@]}" >&2
fi
echo "$venv/bin/python"
