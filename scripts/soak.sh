#!/usr/bin/env bash
# A long desktop session under Xvfb: distillation on the embedded teacher with live curves while
# the attention view recomputes its maps every 20 s (attnx --soak). Writes one CSV line a minute
# (resident memory, growth since the start, step, GUI event-loop latency p50/p99/max) to
# OUT/soak.csv and prints a summary; exits 1 when memory grew by 50 MiB or more.
#
# usage: scripts/soak.sh [MINUTES (default 60)] [OUT_DIR (default build/soak)] [attnx options]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"
MINUTES="${1:-60}"
OUT="${2:-$BUILD/soak}"
shift 2 || shift $# || true
mkdir -p "$OUT"
command -v xvfb-run >/dev/null || { echo "soak: xvfb-run is missing (scripts/setup.sh installs it)" >&2; exit 1; }

export XDG_CONFIG_HOME="$OUT/.config"  # the default layout
rm -rf "$XDG_CONFIG_HOME"
xvfb-run -a -s '-screen 0 1600x1000x24' "$BUILD/app/attnx" --soak "$MINUTES" --seq-len 128 "$@" \
    > "$OUT/soak.csv" 2> "$OUT/soak.log"
cat "$OUT/soak.csv"
# Growth is measured from minute 1 (after the model, the first batches and the first maps).
awk -F, 'NR == 3 { base = $2 } NR > 2 { last = $2; if ($6 > p99) p99 = $6; if ($7 > mx) mx = $7 }
         END { growth = last - base
               printf "soak: %d minutes, resident %.1f -> %.1f MiB (growth %.1f MiB after minute 1), worst minute p99 %.1f ms, max %.1f ms\n",
                      NR - 2, base, last, growth, p99, mx
               exit growth >= 50 }' "$OUT/soak.csv"
