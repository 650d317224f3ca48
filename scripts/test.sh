#!/usr/bin/env bash
# The README's second command: set up (packages, pinned data), build, and run the whole test suite.
# CI runs exactly this (.ci/run).
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build.sh"
BUILD="${ATTNX_BUILD_DIR:-$ROOT/build}"
cd "$BUILD"
ctest --output-on-failure --timeout 600 -j "${ATTNX_JOBS:-2}"
