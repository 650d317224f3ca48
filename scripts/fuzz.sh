#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz by hand with clang++ (no CMake configure), makes
# their seed corpora and dictionaries, and runs them. See tests/fuzz/README.md.
#
#   scripts/fuzz.sh [--time SECONDS | --runs N] [--out DIR] [--build DIR] [--max-len BYTES]
#                   [--keep-going] [TARGET...]      build, then run each target (default: all)
#   scripts/fuzz.sh --build-only [TARGET...]        build only
#   scripts/fuzz.sh --repro FILE TARGET             run one input, print its report (exit != 0: still a bug)
#   scripts/fuzz.sh --check SECONDS                 for the test suite: build and run every target
#                                                   SECONDS each; exit 77 (skip) without clang++/libFuzzer
#
# TARGET: safetensors, gpt2_config, tokenizer, mask_bank, plan_files (a "fuzz_" prefix is fine).
# Defaults: --time 60, --build build-fuzz (under the repository), --out BUILD/out, --max-len 4096.
# Corpora grow in OUT/corpus/TARGET; crash, timeout and oom inputs are written to OUT/findings/TARGET/.
# --keep-going runs libFuzzer in fork mode (-fork=1 -ignore_crashes=1 ...), so that it goes on after a
# finding instead of stopping at the first one. Extra libFuzzer flags: ATTNX_FUZZ_FLAGS="-flag=value ...".
# Exit status: 0 when no run wrote a finding, 1 when one did, 2 for a usage or build error, 77 = skipped.
# The build uses one compiler process at a time.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ALL_TARGETS=(safetensors gpt2_config tokenizer mask_bank plan_files)
CXX="${CXX_FUZZ:-clang++}"
CXXFLAGS=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I.)

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "fuzz.sh: $*" >&2; exit 2; }

# Sources compiled into each harness (besides tests/fuzz/fuzz_TARGET.cpp); the JSON helper is
# added wherever core/ has it.
sources_of() {
  local extra=()
  [[ -f core/util/json_document.cpp ]] && extra=(core/util/json_document.cpp)
  case "$1" in
    safetensors) echo core/io/safetensors.cpp core/io/atomic_file.cpp "${extra[@]}" ;;
    gpt2_config) echo core/model/gpt2_config.cpp "${extra[@]}" ;;
    tokenizer) echo core/io/bpe_tokenizer.cpp "${extra[@]}" ;;
    mask_bank) echo core/masks/mask_bank.cpp core/masks/mask_spec.cpp core/io/atomic_file.cpp "${extra[@]}" ;;
    plan_files)
      echo core/eval/attention_plan.cpp core/eval/pruning_profile.cpp core/train/distill_config.cpp \
        core/masks/mask_bank.cpp core/masks/mask_spec.cpp core/io/atomic_file.cpp "${extra[@]}" ;;
    *) die "unknown target '$1' (known: ${ALL_TARGETS[*]})" ;;
  esac
}
libs_of() {
  if [[ $1 == tokenizer ]]; then pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8; fi
}
cflags_of() {
  if [[ $1 == tokenizer ]]; then pkg-config --cflags libpcre2-8 2>/dev/null || true; fi
}

canonical() { local t="${1#fuzz_}"; sources_of "$t" >/dev/null; echo "$t"; }

# ---- options ----
MODE=run TIME=60 RUNS="" OUT="" BUILD="$ROOT/build-fuzz" MAXLEN=4096 KEEP_GOING=0 REPRO="" TARGETS=()
while (($#)); do
  case "$1" in
    --time) TIME="${2:?}"; RUNS=""; shift 2 ;;
    --runs) RUNS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --build) BUILD="${2:?}"; shift 2 ;;
    --max-len) MAXLEN="${2:?}"; shift 2 ;;
    --keep-going) KEEP_GOING=1; shift ;;
    --build-only) MODE=build; shift ;;
    --repro) MODE=repro; REPRO="${2:?}"; shift 2 ;;
    --check) MODE=check; TIME="${2:?}"; RUNS=""; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) TARGETS+=("$(canonical "$1")"); shift ;;
  esac
done
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")
[[ $BUILD = /* ]] || BUILD="$ROOT/$BUILD"
OUT="${OUT:-$BUILD/out}"
[[ $OUT = /* ]] || OUT="$ROOT/$OUT"
[[ $MODE != repro || ${#TARGETS[@]} -eq 1 ]] || die "--repro FILE TARGET takes exactly one target"

# ---- toolchain ----
have_libfuzzer() {
  command -v "$CXX" >/dev/null 2>&1 || return 1
  local dir; dir="$(mktemp -d)"
  printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' > "$dir/t.cpp"
  "$CXX" -fsanitize=fuzzer,address,undefined "$dir/t.cpp" -o "$dir/t" >/dev/null 2>&1
  local rc=$?
  rm -rf "$dir"
  return $rc
}
if ! have_libfuzzer; then
  echo "fuzz.sh: SKIP: $CXX with libFuzzer (-fsanitize=fuzzer) is not available (Debian: apt-get install clang libclang-rt-14-dev, as scripts/setup.sh does)" >&2
  exit 77
fi
if [[ " ${TARGETS[*]} " == *" tokenizer "* ]] && ! pkg-config --exists libpcre2-8 2>/dev/null && [[ ! -f /usr/include/pcre2.h ]]; then
  echo "fuzz.sh: SKIP: the tokenizer harness needs PCRE2 (libpcre2-dev)" >&2
  exit 77
fi

# ---- build: one object per source, shared by the harnesses, rebuilt when it or a header it
# includes is newer, or the flags changed ----
OBJ="$BUILD/obj"
mkdir -p "$OBJ" "$BUILD/bin"
FLAGS_ID="$("$CXX" --version | head -1) ${CXXFLAGS[*]}"
if [[ ! -f $BUILD/flags || "$(cat "$BUILD/flags")" != "$FLAGS_ID" ]]; then
  rm -rf "$OBJ"; mkdir -p "$OBJ"; printf '%s' "$FLAGS_ID" > "$BUILD/flags"
fi

stale() {  # stale OBJECT: missing, or older than a file its .d lists
  local o="$1" d="${1%.o}.d" f
  [[ -f $o && -f $d ]] || return 0
  for f in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$d"); do
    [[ -e $f && ! $f -nt $o ]] || return 0
  done
  return 1
}

compile() {  # compile SOURCE TARGET → prints the object
  local src="$1" target="$2" o
  o="$OBJ/$(echo "${src%.cpp}" | tr / _).o"
  if stale "$o"; then
    echo "  CXX $src" >&2
    # shellcheck disable=SC2046
    "$CXX" "${CXXFLAGS[@]}" $(cflags_of "$target") -MMD -MF "${o%.o}.d" -c "$src" -o "$o.tmp" >&2 || die "compiling $src failed"
    mv "$o.tmp" "$o"
  fi
  echo "$o"
}

build() {  # build TARGET → $BUILD/bin/fuzz_TARGET
  local t="$1" objs=() src bin="$BUILD/bin/fuzz_$t" relink=0
  echo "building fuzz_$t" >&2
  for src in "tests/fuzz/fuzz_$t.cpp" $(sources_of "$t"); do
    objs+=("$(compile "$src" "$t")")
  done
  [[ -f $bin ]] || relink=1
  for o in "${objs[@]}"; do [[ $o -nt $bin ]] && relink=1; done
  if ((relink)); then
    echo "  LINK fuzz_$t" >&2
    # shellcheck disable=SC2046
    "$CXX" -fsanitize=fuzzer,address,undefined "${objs[@]}" $(libs_of "$t") -o "$bin.tmp" >&2 || die "linking fuzz_$t failed"
    mv "$bin.tmp" "$bin"
  fi
}

# ---- seeds and dictionaries ----
seed_file() { [[ -f $1 ]] && cp "$1" "$2/$3"; return 0; }
make_seeds() {  # make_seeds TARGET → $BUILD/seeds/TARGET, $BUILD/dicts/TARGET.dict
  local t="$1" s="$BUILD/seeds/$1" f i=0
  rm -rf "$s"; mkdir -p "$s" "$BUILD/dicts"
  case "$t" in
    safetensors)
      for f in tests/fixtures/*/model.safetensors; do
        [[ $(stat -c %s "$f") -le 65536 ]] && seed_file "$f" "$s" "fixture-$((i++))"
      done
      printf '\x08\0\0\0\0\0\0\0{}      ' > "$s/empty"
      local h='{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} '
      { printf '\x50\0\0\0\0\0\0\0'; printf '%s' "$h"; printf '\0\0\x80\x3f\0\0\0\xc0'; } > "$s/one"
      ;;
    gpt2_config)
      for f in tests/fixtures/*/config.json resources/default-model/config.json; do seed_file "$f" "$s" "fixture-$((i++)).json"; done
      cp tests/fuzz/seeds/gpt2_config/* "$s/" ;;
    tokenizer)
      cp tests/fuzz/seeds/tokenizer/* "$s/"
      # GPT-2's first merges, cut from the fetched tokenizer (fetched data is never committed).
      if [[ -f data/gpt2-tokenizer/vocab.json ]]; then
        python3 - "$s" <<'PY'
import json, sys
vocab = json.load(open("data/gpt2-tokenizer/vocab.json", encoding="utf-8"))
merges = open("data/gpt2-tokenizer/merges.txt", encoding="utf-8").read().split("\n")[1:]
by_id = sorted(vocab.items(), key=lambda kv: kv[1])
for count, eos in ((60, True), (20, False)):
    kept = {tok: i for tok, i in by_id[:256 + count]}  # the 256 bytes, then one token per merge
    if eos:
        kept["<|endoftext|>"] = len(kept)
    text = json.dumps(kept, ensure_ascii=False) + "\n@@@@\n#version: 0.2\n" + "\n".join(merges[:count]) + "\n@@@@\nThe cat sat on the mat."
    open(f"{sys.argv[1]}/gpt2-{count}{'' if eos else '-noeos'}", "w", encoding="utf-8").write(text)
PY
      fi ;;
    mask_bank)
      for f in tests/fixtures/banks/*.json resources/banks/*.json; do seed_file "$f" "$s" "$(basename "$(dirname "$f")")-$(basename "$f")"; done
      cp tests/fuzz/seeds/mask_bank/* "$s/" ;;
    plan_files)  # first byte: 0 plan.json, 1 pruning_profile.json, 2 run.json
      local kind byte
      for kind in plan profile run; do
        case $kind in plan) byte='\x00' ;; profile) byte='\x01' ;; run) byte='\x02' ;; esac
        for f in tests/fuzz/seeds/plan_files/$kind/*.json; do
          { printf "$byte"; cat "$f"; } > "$s/$kind-$(basename "$f")"
        done
      done ;;
  esac
  if [[ $t == safetensors || $t == tokenizer ]]; then
    cp "tests/fuzz/dicts/$t.dict" "$BUILD/dicts/$t.dict"
  else
    cat tests/fuzz/dicts/json.dict "tests/fuzz/dicts/$t.dict" > "$BUILD/dicts/$t.dict"
  fi
}

# ---- running ----
FOUND=0
run_target() {
  local t="$1" bin="$BUILD/bin/fuzz_$1" corpus="$OUT/corpus/$1" findings="$OUT/findings/$1/" log="$OUT/logs/$1.log"
  mkdir -p "$corpus" "$findings" "$OUT/logs"
  make_seeds "$t"
  local before after flags=(-rss_limit_mb=2048 -max_len="$MAXLEN" -timeout=25 -print_final_stats=1
                            -dict="$BUILD/dicts/$t.dict" -artifact_prefix="$findings")
  if [[ -n $RUNS ]]; then flags+=(-runs="$RUNS"); else flags+=(-max_total_time="$TIME"); fi
  ((KEEP_GOING)) && flags+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  before="$(find "$findings" -maxdepth 1 -type f | wc -l)"
  if [[ -n $RUNS ]]; then echo "running fuzz_$t ($RUNS runs, log: $log)"; else echo "running fuzz_$t (${TIME}s, log: $log)"; fi
  # shellcheck disable=SC2086
  (cd "$OUT" && "$bin" "${flags[@]}" ${ATTNX_FUZZ_FLAGS:-} "$corpus" "$BUILD/seeds/$t") > "$log" 2>&1 || true
  after="$(find "$findings" -maxdepth 1 -type f | wc -l)"
  local execs rate
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  if [[ -z $execs ]]; then  # fork mode, or an early stop: the last status line
    local last; last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    execs="$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")"
    rate="$(sed -n 's/.*exec\/s:\{0,1\} *\([0-9]*\).*/\1/p' <<<"$last")"
  fi
  if ((after > before)); then
    FOUND=1
    printf '%-12s executions %-10s exec/s %-8s FOUND %d new finding(s) in %s\n' "$t" "${execs:-?}" "${rate:-?}" \
      $((after - before)) "$findings"
    grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|invariant broken|undocumented exception|.*runtime error:|.*threw )' "$log" | sed 's/^/    /' || true
    find "$findings" -maxdepth 1 -type f -newer "$log.start" -printf '    %p\n' 2>/dev/null | head -5 || true
  else
    printf '%-12s executions %-10s exec/s %-8s nothing found\n' "$t" "${execs:-?}" "${rate:-?}"
  fi
}

for t in "${TARGETS[@]}"; do build "$t"; done
case "$MODE" in
  build) exit 0 ;;
  repro)
    t="${TARGETS[0]}"
    echo "$BUILD/bin/fuzz_$t -rss_limit_mb=2048 -timeout=25 $REPRO"
    exec "$BUILD/bin/fuzz_$t" -rss_limit_mb=2048 -timeout=25 "$REPRO" ;;
esac
for t in "${TARGETS[@]}"; do
  mkdir -p "$OUT/logs"; : > "$OUT/logs/$t.log.start"
  run_target "$t"
done
if ((FOUND)); then
  echo "fuzz.sh: findings written; reproduce one with: scripts/fuzz.sh --repro FILE TARGET"
  exit 1
fi
exit 0
