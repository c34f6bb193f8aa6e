#!/usr/bin/env bash
# Steps really run in their images: runc containers of images built by cellpipe on a Debian Python base made with
# mmdebstrap (cached under ~/.cache/cellpipe; the first run on a machine makes it, ~1-2 min), through a real
# docker-registry on loopback. Needs root. Called by scripts/test.sh. Set CELLPIPE_SKIP_CONTAINERS=1 to skip.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -n "${CELLPIPE_SKIP_CONTAINERS:-}" ]; then echo "test-containers: skipped (CELLPIPE_SKIP_CONTAINERS is set)"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "test-containers: skipped (runc needs root here)"; exit 0; fi
[ -f lib/runtimes/containers/runtime.test.js ] || npm run -s build:lib || exit 1
export CELLPIPE_CONTAINER_TESTS=1
node --test --test-concurrency=1 --test-reporter=spec lib/runtimes/containers/runtime.test.js lib/cli/run-in-images.test.js lib/cli/run-in-images-partial.test.js lib/server/containers.test.js
