// attnx-cli score (--text T | --ids 1,2,3 | --file PATH...) [--run RUN [--student compiled|masked|soft]]:
// per-token log-probabilities and perplexity under the teacher or a run's student; with --file, the
// perplexity of each document and of all of them together (token-weighted).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/student_options.h"
#include "core/eval/perplexity.h"

namespace attnx::cli {
namespace {

// Each document of each path scored on its own (a window never spans two documents); the overall
// perplexity is exp of the token-weighted mean NLL, as for one long text.
int scoreFiles(const GlobalOptions& g, ChosenModel& chosen, const std::vector<std::string>& paths, int64_t stride) {
  const auto tok = loadTokenizer(chosen.options);
  auto& model = chosen.model;
  const int64_t densityN = model->config().contextLength;
  nlohmann::json docs = nlohmann::json::array();
  double totalNll = 0;
  int64_t totalTokens = 0;
  for (const auto& path : paths) {
    const auto corpus = loadCorpus(path, tok);
    for (const auto& doc : corpus.documents()) {
      if (doc.size() < 2) continue;
      std::vector<int64_t> ids(corpus.ids().begin() + doc.begin, corpus.ids().begin() + doc.end);
      checkIdsFit(ids, model);
      const auto scores = scoreTokens(model, ids, stride, chosen.kernel());
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
    auto j = chosen.json(densityN);
    j.update({{"documents", docs}, {"scored_tokens", totalTokens}, {"mean_nll", meanNll}, {"perplexity", std::exp(meanNll)}});
    printJson(j);
  } else {
    std::printf("model: %s\n", chosen.describe(densityN).c_str());
    std::printf("all: %zu documents, %lld tokens, mean NLL %.4f nats, perplexity %.3f\n", docs.size(),
                static_cast<long long>(totalTokens), meanNll, std::exp(meanNll));
  }
  return 0;
}

}  // namespace

Runner addScoreCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("score", "Log-probability of every token and the perplexity of a text");
  struct Args { std::string text, ids; std::vector<std::string> files; int64_t stride = 0; StudentOptions student; };
  auto a = std::make_shared<Args>();
  auto* textOpt = sub->add_option("--text", a->text, "Text to score (tokenized with the model's tokenizer)");
  auto* idsOpt = sub->add_option("--ids", a->ids, "Token ids to score, comma-separated");
  auto* filesOpt = sub->add_option("--file", a->files,
                                   "Text files or folders of .txt files: perplexity per document and overall")
                       ->check(CLI::ExistingPath);
  textOpt->excludes(idsOpt);
  filesOpt->excludes(textOpt)->excludes(idsOpt);
  sub->add_option("--stride", a->stride, "Sliding-window stride for texts longer than the context (default: half)")
      ->check(NonNegative);
  addModelOption(sub, g);
  addStudentOptions(sub, a->student, /*runRequired=*/false, /*allowSoft=*/true, /*shortNames=*/false);
  addJsonFlag(sub, g);
  sub->callback([textOpt, idsOpt, filesOpt] {
    if (textOpt->count() + idsOpt->count() + filesOpt->count() == 0)
      throw CLI::RequiredError("--text, --ids or --file");
  });
  return [&g, a, idsOpt, filesOpt] {
    auto chosen = chooseModel(g, a->student);
    if (filesOpt->count()) return scoreFiles(g, chosen, a->files, a->stride);
    std::vector<int64_t> ids;
    std::optional<BpeTokenizer> tok;
    if (idsOpt->count()) {
      ids = parseIdList(a->ids, "--ids");
    } else {
      tok = loadTokenizer(chosen.options);
      for (int id : tok->encode(a->text)) ids.push_back(id);
    }
    if (ids.size() < 2)
      throw std::runtime_error(std::string(idsOpt->count() ? "--ids" : "--text") + ": " + std::to_string(ids.size()) +
                               " token" + (ids.size() == 1 ? "" : "s") + "; scoring needs at least 2 (the first token has no prediction)");
    auto& model = chosen.model;
    checkIdsFit(ids, model);
    const auto scores = scoreTokens(model, ids, a->stride, chosen.kernel());
    const int64_t densityN = std::max<int64_t>(1, std::min<int64_t>(int64_t(ids.size()), model->config().contextLength));
    if (g.json) {
      auto j = chosen.json(densityN);
      j.update({{"ids", ids}, {"logprobs", scores.logprobs}, {"mean_nll", scores.meanNll()},
                {"perplexity", scores.perplexity()}, {"scored_tokens", scores.logprobs.size()}});
      printJson(j);
      return 0;
    }
    std::printf("model: %s\n", chosen.describe(densityN).c_str());
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
