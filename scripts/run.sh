#!/usr/bin/env bash
# The README's first command: set up (packages, pinned data), build, and run attnx.
# With a display it opens the desktop app on the default model; on a headless machine it runs the
# same first job with attnx-cli (a short generation from the default model) and says how to go on.
#
# usage: scripts/run.sh [arguments for attnx]
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" && -x "$BUILD/app/attnx" ]]; then
    exec "$BUILD/app/attnx" "$@"
fi
echo "attnx: no display here; running the headless twin, attnx-cli:"
# Sampled as the desktop's Completions view samples by default (temperature 1, top-k 40, seed 1):
# greedy decoding of a small model loops on one phrase.
"$BUILD/app/attnx-cli" generate --prompt "The meaning of attention is" --max-new-tokens 40 \
    --temperature 1.0 --top-k 40 --seed 1 "$@" || {
    echo "attnx: attnx-cli needs a model: pass --model DIR (a GPT-2 folder, see README.md)" >&2
    exit 1
}
echo
echo "More: $BUILD/app/attnx-cli --help"
