#!/usr/bin/env bash
# Sweeps the L1 weight λ₁ of a distillation and prints density vs KL vs perplexity, soft and
# pruned (method.md: with L1 on, unneeded masks fall towards zero and pruning lowers density).
#
# usage: scripts/l1_sweep.sh TEACHER BANK TRAIN_DATA HELDOUT_DATA OUT_DIR [λ₁ ...]
#   env: STEPS (150), SEQ (128), BATCH (4), LR (0.05), THRESHOLD (0.05), WINDOWS (16),
#        COMBINE (branch-mixture), INIT (initial α, default 1/K-ish 0.15)
# The default is the plain branch mixture: there α's scale sets the output, so L1 trades KL for
# sparsity. In the soft mask (and a normalised mixture) scaling all α of a head changes nothing,
# so L1 only shrinks the scale and an absolute threshold says little; use --top-k there.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
CLI="${ATTNX_BUILD_DIR:-$ROOT/build}/app/attnx-cli"
[[ $# -ge 5 ]] || { sed -n '2,7p' "$0" >&2; exit 2; }
teacher=$1 bank=$2 train=$3 heldout=$4 out=$5
shift 5
if [[ $# -gt 0 ]]; then lambdas=("$@"); else lambdas=(0 0.001 0.003 0.01 0.03); fi
mkdir -p "$out"
printf '| λ₁ | KL soft | ppl soft | density soft | KL pruned | ppl pruned | density pruned | active masks | ppl teacher |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for lambda in "${lambdas[@]}"; do
    run="$out/l1-$lambda"
    rm -rf "$run"
    "$CLI" distill --teacher "$teacher" --bank "$bank" --data "$train" --steps "${STEPS:-150}" \
        --seq-len "${SEQ:-128}" --batch-size "${BATCH:-4}" --lr "${LR:-0.05}" --lambda-l1 "$lambda" \
        --combine "${COMBINE:-branch-mixture}" --init "${INIT:-0.15}" --validate-every 0 --out "$run" 2>"$run.log" >/dev/null
    "$CLI" eval --run "$run" --data "$heldout" --threshold "${THRESHOLD:-0.05}" --windows "${WINDOWS:-16}" --json \
        >"$run/eval.json" 2>>"$run.log"
    python3 - "$lambda" "$run/eval.json" <<'PY'
import json, sys
lam, j = sys.argv[1], json.load(open(sys.argv[2]))
s, p = j["soft"], j["pruned"]
print(f"| {lam} | {s['kl_per_token']:.4f} | {s['student_perplexity']:.2f} | {j['soft_density']:.3f} | "
      f"{p['kl_per_token']:.4f} | {p['student_perplexity']:.2f} | {j['pruned_density']:.3f} | "
      f"{j['active_masks']} | {s['teacher_perplexity']:.2f} |")
PY
done
