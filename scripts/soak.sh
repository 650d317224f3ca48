#!/usr/bin/env bash
# A long desktop session under Xvfb: distillation on the embedded teacher with live curves while
# the attention view recomputes its maps every 20 s (attnx --soak). Writes one CSV line a minute
# (step; resident memory: last, lowest and highest reading; malloc's bytes in use and freed-but-held;
# GUI event-loop latency p50/p99/max; maps shown and failed) to OUT/soak.csv and prints a summary;
# exits 1 when memory grew by 50 MiB or more or a map failed.
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
# Growth is measured on each minute's highest resident reading (the soak samples every second),
# from minute 1 (after the model, the first batches and the first maps): at the end, and at worst.
awk -F, 'NR == 3 { base = $5 } NR > 2 { last = $5; if ($5 > peak) peak = $5; if ($9 > p99) p99 = $9; if ($10 > mx) mx = $10
                                        maps = $11; failed = $12 }
         END { growth = last - base; worst = peak - base
               printf "soak: %d minutes, resident peak per minute %.1f -> %.1f MiB (growth %.1f MiB after minute 1, worst minute +%.1f MiB), worst minute p99 %.1f ms, max %.1f ms, maps %d shown, %d failed\n",
                      NR - 2, base, last, growth, worst, p99, mx, maps, failed
               exit worst >= 50 || failed > 0 }' "$OUT/soak.csv"
