// attnx-cli generate --prompt T --max-new-tokens N [--greedy | --temperature t --top-k k --top-p p] [--seed s]
#include <iostream>

#include "app/cli/commands.h"
#include "core/eval/generation.h"

namespace attnx::cli {

Runner addGenerateCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("generate", "Continue a prompt (greedy by default, or sampled)");
  struct Args { std::string prompt, promptIds; SamplingOptions s; bool greedy = false; bool noCache = false; };
  auto a = std::make_shared<Args>();
  auto* promptOpt = sub->add_option("--prompt", a->prompt, "Prompt text");
  auto* idsOpt = sub->add_option("--prompt-ids", a->promptIds, "Prompt as token ids, comma-separated");
  promptOpt->excludes(idsOpt);
  sub->add_option("--max-new-tokens", a->s.maxNewTokens, "How many tokens to add at most")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  auto* greedy = sub->add_flag("--greedy", a->greedy, "Always take the most likely token (the default)");
  auto* temp = sub->add_option("--temperature", a->s.temperature, "Sampling temperature (> 0)")
                   ->check(CLI::PositiveNumber);
  auto* topK = sub->add_option("--top-k", a->s.topK, "Sample among the k most likely tokens (0: all)")
                   ->check(CLI::NonNegativeNumber);
  auto* topP = sub->add_option("--top-p", a->s.topP, "Sample from the smallest set of tokens holding this mass")
                   ->check(CLI::Range(0.0, 1.0));
  for (auto* o : {temp, topK, topP}) greedy->excludes(o);
  sub->add_option("--seed", a->s.seed, "Random seed for sampling")->capture_default_str();
  sub->add_flag("--no-eos-stop", [a](int64_t) { a->s.stopOnEos = false; }, "Keep going after <|endoftext|>");
  sub->add_flag("--no-kv-cache", a->noCache, "Recompute the whole prefix for every token (slow; for checks)");
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  sub->callback([promptOpt, idsOpt] {
    if (promptOpt->count() + idsOpt->count() == 0) throw CLI::RequiredError("--prompt or --prompt-ids");
  });
  return [&g, a, idsOpt, temp, topK, topP] {
    auto& s = a->s;
    s.greedy = !(temp->count() || topK->count() || topP->count());
    s.useKvCache = !a->noCache;
    s.validate();

    std::optional<BpeTokenizer> tok;
    std::vector<int64_t> prompt;
    if (idsOpt->count()) {
      prompt = parseIdList(a->promptIds, "--prompt-ids");
    } else {
      tok = loadTokenizer(g);
      for (int id : tok->encode(a->prompt)) prompt.push_back(id);
      if (prompt.empty()) throw CLI::ValidationError("--prompt", "the prompt is empty");
    }
    auto model = loadModel(g);
    checkIdsFit(prompt, model);

    // Text mode streams each token's bytes as it is chosen (a terminal joins split characters).
    TokenCallback stream;
    if (!g.json && tok) {
      std::cout << a->prompt << std::flush;
      stream = [&](int64_t id) {
        std::cout << tok->tokenBytes(static_cast<int>(id)) << std::flush;
        return true;
      };
    }
    const auto result = generate(model, prompt, s, nullptr, stream);

    auto decode = [&](const std::vector<int64_t>& ids) {
      std::vector<int> v(ids.begin(), ids.end());
      return tok ? tok->decode(v) : std::string();
    };
    if (g.json) {
      nlohmann::json j = {{"prompt_ids", prompt}, {"ids", result.tokens}, {"stopped_on_eos", result.stoppedOnEos},
                          {"greedy", s.greedy}, {"seed", s.seed}};
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
