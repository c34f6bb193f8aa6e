#!/usr/bin/env bash
# Builds what `pip install cellpipe` installs into dist/: the sdist, and the wheel built from that sdist (so the sdist
# is known to build the same wheel). The wheel carries the labextension, the Jupyter server config, the backend and
# CLI bundled into one file (scripts/bundle-backend.mjs: no node_modules tree), the step runtime and the `cellpipe`
# command. Needs the checkout's .venv (bash scripts/setup.sh); prints the files and their sizes.
#
#   bash scripts/build-wheel.sh            → dist/cellpipe-<version>.tar.gz, dist/cellpipe-<version>-py3-none-any.whl
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1m[wheel]\033[0m %s\n' "$*" >&2; }
py=.venv/bin/python
[ -x "$py" ] || { echo "build-wheel: .venv is missing; run bash scripts/setup.sh" >&2; exit 1; }

# One version everywhere: the page, the backend and the CLI carry package.json's; the wheel says pyproject's.
version=$(node -p 'require("./package.json").version')
py_version=$($py -c 'import tomllib; print(tomllib.load(open("python/pyproject.toml", "rb"))["project"]["version"])')
init_version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' python/cellpipe/__init__.py)
if [ "$version" != "$py_version" ] || [ "$version" != "$init_version" ]; then
  echo "build-wheel: versions differ: package.json $version, python/pyproject.toml $py_version, python/cellpipe/__init__.py $init_version" >&2
  exit 1
fi

log "building lib/, the backend bundle and the labextension"
npm run -s build:lib
node scripts/bundle-backend.mjs
bash scripts/build-labextension.sh --build-only

mkdir -p dist
rm -f "dist/cellpipe-$version.tar.gz" "dist/cellpipe-$version-"*.whl
log "python -m build python/ (sdist, then the wheel from it)"
# The parts are built above; the build hook must not run npm again (from the sdist it has nothing to build anyway).
out=$(mktemp)
trap 'rm -f "$out"' EXIT
HATCH_JUPYTER_BUILDER_SKIP_NPM=1 "$py" -m build --no-isolation --outdir dist python/ >"$out" 2>&1 || { tail -30 "$out" >&2; exit 1; }
ls -l "dist/cellpipe-$version.tar.gz" "dist/cellpipe-$version-py3-none-any.whl" | awk '{ printf "%s  %.1f MB\n", $NF, $5 / 1048576 }'
