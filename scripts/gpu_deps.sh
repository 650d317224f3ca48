#!/usr/bin/env bash
# Downloads, on this Debian machine, the Debian packages a GPU host lacks for a CUDA build of attnx
# (it has nvcc, CMake, ninja and a CUDA PyTorch, but no apt and no network): the header-only JSON and
# CLI libraries, PCRE2, and Qt 6 Core + Test for the tests. scripts/gpu_check.sh unpacks them into a
# prefix of its own there (never into /). The folder is a build input, never committed.
#
# usage: scripts/gpu_deps.sh [DIR]      (default .gpudeps; carry it to the GPU machine)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.gpudeps}
mkdir -p "$dir"
readonly PACKAGES=(
  nlohmann-json3-dev libcli11-dev libpcre2-dev libpcre2-8-0
  qt6-base-dev qt6-base-dev-tools libqt6core6 libqt6test6
  # libQt6Core's own needs, in case the host has no copy of them (gpu_check.sh links only those missing).
  libicu72 libdouble-conversion3 libb2-1 libpcre2-16-0 libglib2.0-0 libffi8
)
(cd "$dir" && rm -f ./*.deb && apt-get download "${PACKAGES[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
n=$(ls "$dir"/*.deb | wc -l)
[[ $n -eq ${#PACKAGES[@]} ]] || { echo "gpu_deps: expected ${#PACKAGES[@]} packages in $dir, got $n" >&2; exit 1; }
echo "gpu_deps: $n packages in $dir ($(du -sh "$dir" | cut -f1))"
