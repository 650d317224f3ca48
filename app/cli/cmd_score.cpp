// attnx-cli score (--text T | --ids 1,2,3 | --file PATH...): per-token log-probabilities and perplexity;
// with --file, the perplexity of each document and of all of them together (token-weighted).
#include <cmath>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "core/eval/perplexity.h"

namespace attnx::cli {
namespace {

// Each document of each path scored on its own (a window never spans two documents); the overall
// perplexity is exp of the token-weighted mean NLL, as for one long text.
int scoreFiles(GlobalOptions& g, const std::vector<std::string>& paths, int64_t stride) {
  const auto tok = loadTokenizer(g);
  auto model = loadModel(g);
  nlohmann::json docs = nlohmann::json::array();
  double totalNll = 0;
  int64_t totalTokens = 0;
  for (const auto& path : paths) {
    const auto corpus = loadCorpus(path, tok);
    for (const auto& doc : corpus.documents()) {
      if (doc.size() < 2) continue;
      std::vector<int64_t> ids(corpus.ids().begin() + doc.begin, corpus.ids().begin() + doc.end);
      checkIdsFit(ids, model);
      const auto scores = scoreTokens(model, ids, stride);
      const auto n = int64_t(scores.logprobs.size());
      totalNll += scores.meanNll() * double(n);
      totalTokens += n;
      docs.push_back({{"name", doc.name}, {"scored_tokens", n}, {"mean_nll", scores.meanNll()},
                      {"perplexity", scores.perplexity()}});
      if (!g.json)
        std::printf("%-44s %8lld tokens  perplexity %9.3f\n", doc.name.c_str(), static_cast<long long>(n),
                    scores.perplexity());
    }
  }
  if (totalTokens == 0) throw std::runtime_error("no document with at least two tokens in the given files");
  const double meanNll = totalNll / double(totalTokens);
  if (g.json) {
    printJson({{"documents", docs}, {"scored_tokens", totalTokens}, {"mean_nll", meanNll},
               {"perplexity", std::exp(meanNll)}});
  } else {
    std::printf("all: %zu documents, %lld tokens, mean NLL %.4f nats, perplexity %.3f\n", docs.size(),
                static_cast<long long>(totalTokens), meanNll, std::exp(meanNll));
  }
  return 0;
}

}  // namespace

Runner addScoreCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("score", "Log-probability of every token and the perplexity of a text");
  struct Args { std::string text, ids; std::vector<std::string> files; int64_t stride = 0; };
  auto a = std::make_shared<Args>();
  auto* textOpt = sub->add_option("--text", a->text, "Text to score (tokenized with the model's tokenizer)");
  auto* idsOpt = sub->add_option("--ids", a->ids, "Token ids to score, comma-separated");
  auto* filesOpt = sub->add_option("--file", a->files,
                                   "Text files or folders of .txt files: perplexity per document and overall")
                       ->check(CLI::ExistingPath);
  textOpt->excludes(idsOpt);
  filesOpt->excludes(textOpt)->excludes(idsOpt);
  sub->add_option("--stride", a->stride, "Sliding-window stride for texts longer than the context (default: half)")
      ->check(CLI::NonNegativeNumber);
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  sub->callback([textOpt, idsOpt, filesOpt] {
    if (textOpt->count() + idsOpt->count() + filesOpt->count() == 0)
      throw CLI::RequiredError("--text, --ids or --file");
  });
  return [&g, a, idsOpt, filesOpt] {
    if (filesOpt->count()) return scoreFiles(g, a->files, a->stride);
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
