// attnx-cli heads (--text T | --file PATH): what each attention head does (previous-token, sink,
// self, delimiter, local or broad), averaged over windows of real text. See core/eval/head_profile.h.
#include <algorithm>
#include <cstdio>

#include "app/cli/commands.h"
#include "core/eval/head_profile.h"

namespace attnx::cli {

Runner addHeadsCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("heads", "Profile every attention head: previous-token, sink, self, delimiter, local or broad");
  struct Args { std::string text, file; int64_t seqLen = 256, windows = 4; };
  auto a = std::make_shared<Args>();
  auto* textOpt = sub->add_option("--text", a->text, "Text to look at");
  auto* fileOpt = sub->add_option("--file", a->file, "A .txt file or folder of them")->check(CLI::ExistingPath);
  textOpt->excludes(fileOpt);
  sub->add_option("--seq-len", a->seqLen, "Tokens per window (at most the context)")->check(CLI::Range(32, 1 << 20));
  sub->add_option("--windows", a->windows, "Windows, evenly spaced over the text")->check(Positive);
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  sub->callback([textOpt, fileOpt] {
    if (textOpt->count() + fileOpt->count() == 0) throw CLI::RequiredError("--text or --file");
  });
  return [&g, a, fileOpt] {
    const auto tok = loadTokenizer(g);
    auto model = loadModel(g);
    std::vector<int64_t> ids;
    if (fileOpt->count()) {
      const auto corpus = loadCorpus(a->file, tok);
      ids.assign(corpus.ids().begin(), corpus.ids().end());
    } else {
      for (int id : tok.encode(a->text)) ids.push_back(id);
    }
    checkIdsFit(ids, model);
    const int64_t T = std::min<int64_t>(a->seqLen, model->config().contextLength);
    if (int64_t(ids.size()) < T)
      throw std::runtime_error("the text has " + std::to_string(ids.size()) + " tokens; --seq-len " +
                               std::to_string(T) + " needs at least that many");
    const int64_t W = std::min<int64_t>(a->windows, int64_t(ids.size()) - T + 1);
    auto batch = torch::empty({W, T}, torch::kInt64);
    auto delimiters = torch::zeros({W, T}, torch::kBool);
    auto isDelim = delimiters.accessor<bool, 2>();
    for (int64_t w = 0; w < W; ++w) {
      const int64_t start = W == 1 ? 0 : w * (int64_t(ids.size()) - T) / (W - 1);
      batch[w] = torch::tensor(std::vector<int64_t>(ids.begin() + start, ids.begin() + start + T));
      for (int64_t t = 0; t < T; ++t) isDelim[w][t] = isDelimiterText(tok.tokenBytes(int(ids[size_t(start + t)])));
    }
    // What a head that ignored token identity would put on delimiters: their share of the tokens.
    const double delimiterShare = delimiters.to(torch::kFloat64).mean().item<double>();
    torch::NoGradGuard noGrad;
    model->eval();
    const auto heads = profileHeads(model->attentionMaps(batch.to(selectDevice(g))), {}, delimiters);
    if (g.json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& h : heads)
        rows.push_back({{"layer", h.layer}, {"head", h.head}, {"kind", h.kind}, {"previous_token", h.previousToken},
                        {"sink", h.sink}, {"self", h.self}, {"delimiter", h.delimiter}, {"local16", h.local}, {"mean_distance", h.meanDistance},
                        {"entropy", h.entropy}});
      printJson({{"windows", W}, {"seq_len", T}, {"delimiter_share", delimiterShare}, {"heads", rows}});
      return 0;
    }
    std::printf("%d windows of %lld tokens; mean attention per query (rows 16..T-1); delimiter tokens "
                "(punctuation, line breaks) are %.0f%% of the text\n",
                int(W), static_cast<long long>(T), 100.0 * delimiterShare);
    std::printf("layer head  kind             prev   sink   self  delim  local16  distance  entropy\n");
    for (const auto& h : heads)
      std::printf("%5lld %4lld  %-15s %5.2f  %5.2f  %5.2f  %5.2f  %6.2f  %8.1f  %7.2f\n", static_cast<long long>(h.layer),
                  static_cast<long long>(h.head), h.kind.c_str(), h.previousToken, h.sink, h.self, h.delimiter, h.local,
                  h.meanDistance, h.entropy);
    return 0;
  };
}

}  // namespace attnx::cli
