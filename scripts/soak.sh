#!/usr/bin/env bash
# A long desktop session under Xvfb: distillation on the embedded teacher with live curves while
# the attention view recomputes its maps every 20 s (attnx-tour --soak). Writes one CSV line a minute
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
xvfb-run -a -s '-screen 0 1600x1000x24' "$BUILD/app/attnx-tour" --soak "$MINUTES" --seq-len 128 "$@" \
    > "$OUT/soak.csv" 2> "$OUT/soak.log"
cat "$OUT/soak.csv"
# Growth: each minute's highest resident reading (sampled every second) rises and falls with what
# that minute's training steps and maps happened to overlap (about +-75 MiB), so the growth is the
# median of those peaks over the last window of minutes minus the median over the first, minute 0
# (the first run's leftovers) excluded; a window is 10 minutes, or half the soak when shorter.
median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rows="$(tail -n +3 "$OUT/soak.csv")"  # minutes 1..N
n="$(printf '%s\n' "$rows" | grep -c .)"
window=$(( n / 2 < 10 ? n / 2 : 10 )); (( window >= 1 )) || window=1
first="$(printf '%s\n' "$rows" | head -n "$window" | cut -d, -f5 | median)"
last="$(printf '%s\n' "$rows" | tail -n "$window" | cut -d, -f5 | median)"
printf '%s\n' "$rows" | awk -F, -v first="$first" -v last="$last" -v window="$window" '
  { if ($5 > peak) peak = $5; if ($9 > p99) p99 = $9; if ($10 > mx) mx = $10; maps = $11; failed = $12 }
  END { growth = last - first
        printf "soak: %d minutes; resident peak per minute, median of the first %d minutes %.1f MiB, of the last %d %.1f MiB: growth %.1f MiB (highest minute %.1f MiB); GUI latency worst minute p99 %.1f ms, max %.1f ms; maps %d shown, %d failed\n",
               NR, window, first, window, last, growth, peak, p99, mx, maps, failed
        exit growth >= 50 || failed > 0 }'
