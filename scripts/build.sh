#!/usr/bin/env bash
# Configures (once) and builds attnx into build/. Fast when nothing changed: Ninja rebuilds only
# what did. Two parallel jobs by default: each LibTorch translation unit needs ~1.5 GiB of memory.
#
# usage: scripts/build.sh [extra cmake -D options]   env: ATTNX_BUILD_DIR (default build), ATTNX_JOBS
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"
JOBS="${ATTNX_JOBS:-2}"

if [[ ! -f "$BUILD/build.ninja" || $# -gt 0 ]]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$BUILD" -j "$JOBS"
