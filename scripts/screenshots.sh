#!/usr/bin/env bash
# Starts the real app under Xvfb, drives it through a short distillation (attnx-tour --tour: load a model,
# build a bank by hand, start, pause, resume, stop, save the run, reopen it, resume to the end) and
# saves a PNG of the window after each step and of every panel, for review and for the README.
#
# usage: scripts/screenshots.sh [OUT_DIR (default build/screenshots)] [attnx options, e.g. --model DIR --steps N]
# The screen is 1600x1000 (ATTNX_SCREEN=1280x800 for a laptop's); the window takes its default size on it.
# The model: --model DIR, else $ATTNX_DEFAULT_MODEL, else the embedded default model (resources/default-model),
# else a small GPT-2 made here with attnx-cli pretrain (2 layers, 4 heads, a few steps on one book: enough to
# have real curves, not a good model).
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"
OUT="${1:-$BUILD/screenshots}"
shift || true
mkdir -p "$OUT"
command -v xvfb-run >/dev/null || { echo "screenshots: xvfb-run is missing (scripts/setup.sh installs it)" >&2; exit 1; }

args=("$@")
if [[ " ${args[*]-} " != *" --model "* ]]; then
    if [[ -n "${ATTNX_DEFAULT_MODEL:-}" && -f "$ATTNX_DEFAULT_MODEL/config.json" ]]; then
        args+=(--model "$ATTNX_DEFAULT_MODEL")
    elif [[ -f "$ROOT/resources/default-model/config.json" ]]; then
        :  # no --model: the app opens its embedded default model, as a new user's would
    else
        small="$OUT/small-model"
        if [[ ! -f "$small/model/config.json" ]]; then
            echo "screenshots: making a small GPT-2 in $small (attnx-cli pretrain)"
            "$BUILD/app/attnx-cli" pretrain --data "$ROOT/data/corpus/validation/gutenberg-chesterton-brown.txt" \
                --out "$small" --layers 2 --heads 4 --width 64 --context 128 --steps 30 --batch-size 4 --seq-len 64 \
                --validate-every 0 >/dev/null
        fi
        args+=(--model "$small/model")
    fi
fi

# A fresh settings file, so the layout is the default one.
export XDG_CONFIG_HOME="$OUT/.config"
rm -rf "$XDG_CONFIG_HOME"
xvfb-run -a -s "-screen 0 ${ATTNX_SCREEN:-1600x1000}x24" "$BUILD/app/attnx-tour" --tour "$OUT" "${args[@]}"
ls "$OUT"/*.png
