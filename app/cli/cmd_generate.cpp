// attnx-cli generate --prompt T --max-new-tokens N [--greedy | --temperature t --top-k k --top-p p] [--seed s]
//                    [--repetition-penalty r]
//                    [--run RUN [--student compiled|masked|soft]]: the teacher or a run's student continues
// a prompt; a window/sink plan decodes with a bounded KV cache.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/student_options.h"
#include "core/eval/generation.h"

namespace attnx::cli {

Runner addGenerateCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("generate", "Continue a prompt (greedy by default, or sampled)");
  struct Args {
    std::string prompt, promptIds;
    SamplingOptions s;
    bool greedy = false, noCache = false, fullCache = false, verbose = false;
    StudentOptions student;
  };
  auto a = std::make_shared<Args>();
  auto* promptOpt = sub->add_option("--prompt", a->prompt, "Prompt text");
  auto* idsOpt = sub->add_option("--prompt-ids", a->promptIds, "Prompt as token ids, comma-separated");
  promptOpt->excludes(idsOpt);
  sub->add_option("--max-new-tokens", a->s.maxNewTokens, "How many tokens to add at most")
      ->capture_default_str()->check(NonNegative);
  auto* greedy = sub->add_flag("--greedy", a->greedy, "Always take the most likely token (the default)");
  auto* temp = sub->add_option("--temperature", a->s.temperature, "Sampling temperature (> 0)")
                   ->check(Positive);
  auto* topK = sub->add_option("--top-k", a->s.topK, "Sample among the k most likely tokens (0: all)")
                   ->check(NonNegative);
  auto* topP = sub->add_option("--top-p", a->s.topP, "Sample from the smallest set of tokens holding this mass")
                   ->check(CLI::Range(0.0, 1.0));
  for (auto* o : {temp, topK, topP}) greedy->excludes(o);
  sub->add_option("--repetition-penalty", a->s.repetitionPenalty,
                  "Divide the positive logits of tokens already in the text by r (multiply the negative ones); "
                  "1 turns it off, 1.1-1.3 breaks greedy loops. Greedy or sampled")
      ->capture_default_str()->check(Positive);
  sub->add_option("--seed", a->s.seed, "Random seed for sampling")->capture_default_str();
  sub->add_flag("--no-eos-stop", [a](int64_t) { a->s.stopOnEos = false; }, "Keep going after <|endoftext|>");
  auto* noCache = sub->add_flag("--no-kv-cache", a->noCache, "Recompute the whole prefix for every token (slow; for checks)");
  sub->add_flag("--full-kv-cache", a->fullCache,
                "Keep every key in the KV cache even when the student's plan only reaches sinks and a window "
                "(by default such a plan drops older keys; the tokens are the same)")
      ->excludes(noCache);
  sub->add_flag("-v,--verbose", a->verbose, "Print which model ran and what the KV cache held, on stderr");
  addModelOption(sub, g);
  addStudentOptions(sub, a->student, /*runRequired=*/false, /*allowSoft=*/true, /*shortNames=*/false);
  addJsonFlag(sub, g);
  sub->callback([promptOpt, idsOpt] {
    if (promptOpt->count() + idsOpt->count() == 0) throw CLI::RequiredError("--prompt or --prompt-ids");
  });
  return [&g, a, idsOpt, temp, topK, topP] {
    auto& s = a->s;
    s.greedy = !(temp->count() || topK->count() || topP->count());
    s.useKvCache = !a->noCache;
    s.boundKvCache = !a->fullCache;
    s.validate();

    auto chosen = chooseModel(g, a->student);
    auto& model = chosen.model;
    std::optional<BpeTokenizer> tok;
    std::vector<int64_t> prompt;
    if (idsOpt->count()) {
      prompt = parseIdList(a->promptIds, "--prompt-ids");
    } else {
      tok = loadTokenizer(chosen.options);
      for (int id : tok->encode(a->prompt)) prompt.push_back(id);
      if (prompt.empty()) throw CLI::ValidationError("--prompt", "the prompt is empty");
    }
    checkIdsFit(prompt, model);
    // Density at the longest sequence the generation can see.
    const int64_t densityN = std::max<int64_t>(
        1, std::min<int64_t>(int64_t(prompt.size()) + s.maxNewTokens, model->config().contextLength));
    if (a->verbose || (chosen.student && !g.json)) std::fprintf(stderr, "model: %s\n", chosen.describe(densityN).c_str());

    // Text mode streams each token's bytes as it is chosen (a terminal joins split characters).
    TokenCallback stream;
    if (!g.json && tok) {
      std::cout << a->prompt << std::flush;
      stream = [&](int64_t id) {
        std::cout << tok->tokenBytes(static_cast<int>(id)) << std::flush;
        return true;
      };
    }
    const auto result = generate(model, prompt, s, chosen.kernel(), stream);
    const auto& c = result.cache;

    auto decode = [&](const std::vector<int64_t>& ids) {
      std::vector<int> v(ids.begin(), ids.end());
      return tok ? tok->decode(v) : std::string();
    };
    if (a->verbose && s.useKvCache) {
      if (c.bounded)
        std::fprintf(stderr, "kv cache: bounded to %lld sinks + %lld window keys: at most %lld keys per layer, %.1f KiB "
                             "(%lld keys per layer dropped)\n",
                     static_cast<long long>(c.sinks), static_cast<long long>(c.window), static_cast<long long>(c.peakKeys),
                     c.peakBytes / 1024.0, static_cast<long long>(c.droppedKeys));
      else
        std::fprintf(stderr, "kv cache: every key kept: at most %lld keys per layer, %.1f KiB\n",
                     static_cast<long long>(c.peakKeys), c.peakBytes / 1024.0);
    }
    if (g.json) {
      auto j = chosen.json(densityN);
      j.update({{"prompt_ids", prompt}, {"ids", result.tokens}, {"stopped_on_eos", result.stoppedOnEos},
                {"greedy", s.greedy}, {"seed", s.seed},
                {"repetition_penalty", s.repetitionPenalty}});
      if (s.useKvCache)
        j["kv_cache"] = {{"bounded", c.bounded}, {"sinks", c.sinks}, {"window", c.window}, {"peak_keys", c.peakKeys},
                         {"peak_bytes", c.peakBytes}, {"dropped_keys", c.droppedKeys}};
      if (tok) {
        j["completion"] = decode(result.tokens);
        j["text"] = decode(prompt) + decode(result.tokens);
      }
      printJson(j);
    } else if (tok) {
      std::cout << '\n';
    } else {
      for (size_t i = 0; i < result.tokens.size(); ++i) std::cout << (i ? "," : "") << result.tokens[i];
      std::cout << '\n';
    }
    return 0;
  };
}

}  // namespace attnx::cli
