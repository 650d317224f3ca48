#!/usr/bin/env bash
# Starts the real app under Xvfb and saves a screenshot of each view into a folder, for review
# and for the README. usage: scripts/screenshots.sh [OUT_DIR (default build/screenshots)] [--model DIR]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"
OUT="${1:-$BUILD/screenshots}"
shift || true
mkdir -p "$OUT"
command -v xvfb-run >/dev/null || { echo "screenshots: xvfb-run is missing (scripts/setup.sh installs it)" >&2; exit 1; }
shoot() {  # name, then arguments for attnx
    local name=$1; shift
    xvfb-run -a -s '-screen 0 1600x1000x24' "$BUILD/app/attnx" --screenshot "$OUT/$name.png" "$@"
    echo "screenshots: $OUT/$name.png"
}
shoot main-window "$@"
