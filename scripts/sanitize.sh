#!/usr/bin/env bash
# The whole test suite under sanitizers, in a build folder of its own.
#
# usage: scripts/sanitize.sh [address|thread] [ctest arguments...]
#   address: AddressSanitizer + UndefinedBehaviorSanitizer over every test (build-asan/)
#   thread:  ThreadSanitizer over the threaded tests (build-tsan/): the training controller, the
#            attention worker, the downloader, the CLI's trainer, the UI main window and the run session
#            (analysis loading on a worker, one teacher shared by the views)
# Leak checking is off: LibTorch and Qt keep process-lifetime singletons that LeakSanitizer
# reports at exit; growth during a run is what scripts/soak.sh measures.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${1:-address}"
[[ $# -gt 0 ]] && shift
case "$MODE" in
  address) FLAGS=address,undefined; BUILD="$ROOT/build-asan"; TARGETS=(all); SELECT=() ;;
  thread) FLAGS=thread; BUILD="$ROOT/build-tsan"
          TARGETS=(test_ui_training_controller test_attention_view test_model_download test_ui_main_window test_distill_trainer
                   test_run_session)
          SELECT=(-R "^($(IFS='|'; echo "${TARGETS[*]}"))\$") ;;
  *) echo "usage: scripts/sanitize.sh [address|thread] [ctest arguments...]" >&2; exit 2 ;;
esac

"$ROOT/scripts/fetch_data.sh" >/dev/null
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNX_SANITIZE="$FLAGS" -DATTNX_TEST_TIMEOUT=1500
cmake --build "$BUILD" -j "${ATTNX_JOBS:-2}" --target "${TARGETS[@]}"  # thread: only the threaded tests

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# OpenBLAS (LibTorch's matrix products) runs in the calling thread: its own thread pool hands work
# over by spinning on flags, which TSan cannot see; LibTorch's OpenMP threads stay (tests/tsan.supp).
export OPENBLAS_NUM_THREADS=1
# die_after_fork=0: QProcess forks the test programs run (attnx-cli) from a threaded process.
export TSAN_OPTIONS="halt_on_error=1:die_after_fork=0:second_deadlock_stack=1:suppressions=$ROOT/tests/tsan.supp"
# Sanitized code runs 2-10x slower: the per-test limit is 1500 s here (ATTNX_TEST_TIMEOUT). The
# .deb test packages the build, not the code, so it is left to the normal suite.
ctest --test-dir "$BUILD" --output-on-failure -E '^test_package$' "${SELECT[@]}" "$@"
