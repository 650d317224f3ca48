// attnx-cli score (--text T | --ids 1,2,3): per-token log-probabilities and perplexity.
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "core/eval/perplexity.h"

namespace attnx::cli {

Runner addScoreCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("score", "Log-probability of every token and the perplexity of a text");
  struct Args { std::string text, ids; int64_t stride = 0; };
  auto a = std::make_shared<Args>();
  auto* textOpt = sub->add_option("--text", a->text, "Text to score (tokenized with the model's tokenizer)");
  auto* idsOpt = sub->add_option("--ids", a->ids, "Token ids to score, comma-separated");
  textOpt->excludes(idsOpt);
  sub->add_option("--stride", a->stride, "Sliding-window stride for texts longer than the context (default: half)")
      ->check(CLI::NonNegativeNumber);
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  sub->callback([textOpt, idsOpt] {
    if (textOpt->count() + idsOpt->count() == 0) throw CLI::RequiredError("--text or --ids");
  });
  return [&g, a, idsOpt] {
    std::vector<int64_t> ids;
    std::optional<BpeTokenizer> tok;
    if (idsOpt->count()) {
      ids = parseIdList(a->ids, "--ids");
    } else {
      tok = loadTokenizer(g);
      for (int id : tok->encode(a->text)) ids.push_back(id);
    }
    auto model = loadModel(g);
    checkIdsFit(ids, model);
    const auto scores = scoreTokens(model, ids, a->stride);
    if (g.json) {
      printJson({{"ids", ids}, {"logprobs", scores.logprobs}, {"mean_nll", scores.meanNll()},
                 {"perplexity", scores.perplexity()}, {"scored_tokens", scores.logprobs.size()}});
      return 0;
    }
    for (size_t t = 1; t < ids.size(); ++t) {
      std::printf("%6zu  %6lld  %10.4f", t, static_cast<long long>(ids[t]), scores.logprobs[t - 1]);
      if (tok) std::printf("  %s", nlohmann::json(tok->tokenBytes(static_cast<int>(ids[t])))
                                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      std::printf("\n");
    }
    std::printf("tokens %zu, mean NLL %.4f nats, perplexity %.3f\n", ids.size(), scores.meanNll(), scores.perplexity());
    return 0;
  };
}

}  // namespace attnx::cli
