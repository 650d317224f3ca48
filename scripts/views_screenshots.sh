#!/usr/bin/env bash
# Drives the analysis views (attnx-views-demo) under Xvfb on a run and saves a screenshot of each
# view plus every exported figure, for review. The main window docks these views later; until then
# this is their screenshot script.
# usage: scripts/views_screenshots.sh RUN_DIR [OUT_DIR (default BUILD/views-screenshots)] [demo options...]
#   e.g. scripts/views_screenshots.sh /work/runs/distill-small out --bench-json bench.json --layer 3 --head 1
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"
RUN="${1:?usage: views_screenshots.sh RUN_DIR [OUT_DIR] [options]}"
OUT="${2:-$BUILD/views-screenshots}"
shift 2 || shift $#
mkdir -p "$OUT"
DEMO="$BUILD/app/attnx-views-demo"
[ -x "$DEMO" ] || { echo "views_screenshots: $DEMO is missing (build the attnx-views-demo target)" >&2; exit 1; }
if command -v xvfb-run >/dev/null; then
    xvfb-run -a -s '-screen 0 1600x1000x24' "$DEMO" --run "$RUN" --cli "$BUILD/app/attnx-cli" --screenshot "$OUT" "$@"
else
    echo "views_screenshots: no xvfb-run, using Qt's offscreen platform" >&2
    QT_QPA_PLATFORM=offscreen "$DEMO" --run "$RUN" --cli "$BUILD/app/attnx-cli" --screenshot "$OUT" "$@"
fi
echo "views_screenshots: views and figures in $OUT"
