#!/usr/bin/env bash
# The CUDA path of attnx, built, tested and measured on a machine with an NVIDIA GPU, a CUDA compiler
# and a CUDA PyTorch (whose LibTorch the build uses). Everything it learns goes into OUT: one log per
# step, summary.txt, and the benchmark JSON (bench/gpu/ keeps the committed copies).
#
# usage: scripts/gpu_check.sh OUT [quick|full]
#
# Before: on a Debian machine with network, scripts/gpu_deps.sh (the Debian packages a GPU host
# lacks: JSON, CLI11, PCRE2, Qt Core + Test); carry .gpudeps with the tree, and data/corpus/test and
# data/gpt2-tokenizer for the model checks. Without a GPU it stops at once and says why (exit 2).
# Every step has a time limit; a failed step is logged and the script goes on where it can.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh OUT [quick|full]}
mode=${2:-full}
mkdir -p "$out"
start=$SECONDS
summary="$out/summary.txt"
say() { echo "gpu_check [$((SECONDS - start))s]: $*" | tee -a "$summary"; }
die() { say "STOP: $*"; exit 2; }
failures=0
# step NAME LIMIT_S CMD...: runs CMD with its output in OUT/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  say "$name ..."
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  if [[ $rc -eq 0 ]]; then say "$name: ok"; else
    failures=$((failures + 1))
    say "$name: FAILED (exit $rc$([[ $rc -eq 124 ]] && echo ", over its ${limit}s limit")); last lines:"
    tail -n 15 "$out/$name.log" | sed 's/^/    /' | tee -a "$summary"
  fi
  return $rc
}

# ---------------------------------------------------------------- the machine
command -v nvidia-smi >/dev/null || die "no nvidia-smi: this machine has no NVIDIA driver"
nvidia-smi -L >"$out/gpu.txt" 2>&1 || die "nvidia-smi sees no GPU: $(head -c 300 "$out/gpu.txt")"
command -v nvcc >/dev/null || die "no CUDA compiler (nvcc) on PATH"
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null ||
  die "python3's PyTorch is missing or sees no GPU (the build takes LibTorch from it)"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  nvcc --version | tail -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
  cmake --version | head -1
  nproc
} >>"$out/gpu.txt" 2>&1
say "$(grep -m1 -i 'nvidia\|h100\|h200' "$out/gpu.txt")"

# ---------------------------------------------------------------- dependencies
[[ -d .gpudeps ]] || die "no .gpudeps here: run scripts/gpu_deps.sh on a Debian machine and carry it"
prefix=/tmp/attnx-gpudeps
rm -rf "$prefix" && mkdir -p "$prefix/missing"
for deb in .gpudeps/*.deb; do dpkg -x "$deb" "$prefix" || die "could not unpack $deb"; done
# Qt's CMake files check that qmake exists (it is in a package not carried, and never run).
# Likewise the mkspecs include folder (qt6-base-dev's mkspecs are not needed to build attnx).
mkdir -p "$prefix/usr/bin" "$prefix/usr/lib/x86_64-linux-gnu/qt6/mkspecs/linux-g++"
touch "$prefix/usr/bin/x86_64-linux-gnu-qmake6"
# Only the libraries the host lacks are put on the library path (never over the host's own).
for so in "$prefix"/usr/lib/x86_64-linux-gnu/*.so.*; do
  ldconfig -p | grep -q " $(basename "$so") " || ln -sf "$so" "$prefix/missing/"
done
export LD_LIBRARY_PATH="$prefix/missing${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')

# ---------------------------------------------------------------- build
build=build-gpu
jobs=$(nproc)
step configure 240 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNX_WITH_UI=OFF \
  -DATTNX_BUILD_TESTS=ON -DATTNX_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr" \
  -DQt6_DIR="$prefix/usr/lib/x86_64-linux-gnu/cmake/Qt6" || die "configure failed (configure.log)"
# -k 0: every compile error of this LibTorch in one log.
if ! step build 420 cmake --build "$build" -j "$jobs" --target attnx-cli test_sparse_attention_cuda -- -k 0; then
  # This LibTorch's headers, so that the errors can be fixed and checked on a machine without a GPU.
  tar -C "$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')" -cJf "$out/torch-include.tar.xz" include
  die "build failed (build.log; this LibTorch's headers in torch-include.tar.xz)"
fi
cli="$build/app/attnx-cli"

# ---------------------------------------------------------------- tests
step test_cuda 180 "$build/tests/test_sparse_attention_cuda" -v1
grep -E "^(PASS|FAIL|SKIP|Totals)" "$out/test_cuda.log" | tee -a "$summary"

# ---------------------------------------------------------------- the compiled student on the GPU
# The committed study's learned plan at density 0.25, scored on the test text on the CPU and the GPU.
run=docs/study/runs/windows-sinks-s0
plan=$run/plans/budget-ft-0.25.json
if [[ -f data/corpus/test/README.md || -d data/corpus/test ]] && [[ -f $plan ]]; then
  for dev in cpu cuda; do
    step "eval_$dev" 300 "$cli" eval --device "$dev" --model resources/default-model --run "$run" --plan "$plan" \
      --data data/corpus/test --windows 4 --seq-len 512 --json
  done
  step generate_cuda 120 "$cli" generate --device cuda --model resources/default-model --run "$run" \
    --prune-budget 0.25 --prompt "The history of the city" --max-new-tokens 32 --greedy
else
  say "eval: skipped (carry data/corpus/test and data/gpt2-tokenizer)"
fi

# ---------------------------------------------------------------- benchmarks
# Each row's numbers reach the log as they are measured (a step cut short keeps them), and rows
# predicted to take longer than --max-row-seconds are skipped and say so: one run fits ~6 minutes.
if [[ $mode == quick ]]; then seqs=1024,4096,16384; dtypes=bf16; else seqs=1024,4096,16384,65536; dtypes="bf16 fp32"; fi
densities=0.5,0.25,0.125,0.0625,0.03125
attention() {
  local dtype=$1
  step "attention_$dtype" 200 "$cli" bench --device cuda --json --attention-only --seq "$seqs" \
    --densities "$densities" --dtype "$dtype" --heads 12 --head-dim 64 --warmup 2 --repeats 5 \
    --max-dense-bytes 40 --max-row-seconds 4 --csv "$out/attention_$dtype.csv"
  # stdout holds the JSON, stderr the progress lines: keep the JSON alone.
  python3 - "$out/attention_$dtype.log" "$out/attention_$dtype.json" <<'EOF' || true
import json, sys
text = open(sys.argv[1]).read()
start = text.find('{"kind"')
if start >= 0:
    doc, _ = json.JSONDecoder().raw_decode(text[start:])
    json.dump(doc, open(sys.argv[2], "w"), indent=1)
EOF
}
first=${dtypes%% *}
attention "$first"
for combine in soft-mask branch-mixture; do
  step "distill_$combine" 120 "$cli" bench --device cuda --json --random gpt2 \
    --distill-step resources/banks/local-sinks.json --combine "$combine" --seq 1024 --batch 8 --repeats 3
done
step model_forward 90 "$cli" bench --device cuda --json --random gpt2 --seq 1024 --generate 64 --repeats 3
for dtype in $dtypes; do [[ $dtype == "$first" ]] || attention "$dtype"; done

say "done in $((SECONDS - start)) s, $failures step(s) failed"
[[ $failures -eq 0 ]]
