#include "core/eval/head_profile.h"

#include <cctype>
#include <stdexcept>

#include <torch/torch.h>

namespace attnx {

namespace {
// U+2000..U+206F (General Punctuation: dashes, curly quotes, ellipsis) is E2 80 80 .. E2 81 AF in UTF-8.
bool generalPunctuationAt(const std::string& s, size_t k) {
  if (k + 2 >= s.size() || static_cast<unsigned char>(s[k]) != 0xE2) return false;
  const unsigned b1 = static_cast<unsigned char>(s[k + 1]), b2 = static_cast<unsigned char>(s[k + 2]);
  if ((b2 & 0xC0) != 0x80) return false;
  return b1 == 0x80 || (b1 == 0x81 && b2 <= 0xAF);
}
}  // namespace

bool isDelimiterText(const std::string& text) {
  if (text.empty()) return false;
  for (size_t k = 0; k < text.size();) {
    const auto c = static_cast<unsigned char>(text[k]);
    if (c < 0x80 && (std::isspace(c) || std::ispunct(c))) {
      ++k;
    } else if (generalPunctuationAt(text, k)) {
      k += 3;
    } else {
      return false;  // a letter, digit, other symbol, or part of a character split across tokens
    }
  }
  return true;
}

std::vector<HeadProfile> profileHeads(const std::vector<torch::Tensor>& maps, const HeadProfileOptions& o,
                                      const torch::Tensor& delimiterKeys) {
  std::vector<HeadProfile> out;
  for (size_t layer = 0; layer < maps.size(); ++layer) {
    const auto& p = maps[layer];
    if (p.dim() != 4 || p.size(2) != p.size(3))
      throw std::invalid_argument("attention map of layer " + std::to_string(layer) + " is not (B, H, T, T)");
    const int64_t T = p.size(3);
    if (T <= o.firstQuery)
      throw std::invalid_argument("need more than " + std::to_string(o.firstQuery) + " tokens to profile heads");
    torch::NoGradGuard noGrad;
    const auto P = p.to(torch::kFloat64).slice(2, o.firstQuery, T);  // rows i = firstQuery..T-1
    const auto i = torch::arange(o.firstQuery, T, torch::kInt64).view({-1, 1});
    const auto j = torch::arange(0, T, torch::kInt64).view({1, -1});
    const auto dist = (i - j).to(torch::kFloat64);  // (Tq, T), negative above the diagonal (P is 0 there)
    const auto rows = double(T - o.firstQuery) * double(p.size(0));
    // Per head: sum over batch and rows, then divide by their count.
    auto perHead = [&](const torch::Tensor& perRow) { return (perRow.sum(torch::IntArrayRef{0, 2}) / rows); };
    const auto prev = perHead(P.diagonal(-1 + o.firstQuery, 2, 3).slice(2, 0, T - o.firstQuery));
    const auto self = perHead(P.diagonal(o.firstQuery, 2, 3));
    const auto sink = perHead(P.select(3, 0));
    const auto local = perHead((P * ((dist >= 0) & (dist < o.localWidth)).to(torch::kFloat64)).sum(3));
    const auto meanDist = perHead((P * dist.clamp_min(0)).sum(3));
    const auto entropy = perHead(-(P * torch::log(P.clamp_min(1e-30))).sum(3));
    torch::Tensor delimiter;
    if (delimiterKeys.defined()) {
      if (delimiterKeys.dim() != 2 || delimiterKeys.size(0) != p.size(0) || delimiterKeys.size(1) != T)
        throw std::invalid_argument("delimiter keys must be (B, T) = (" + std::to_string(p.size(0)) + ", " +
                                    std::to_string(T) + ")");
      const auto isDelim = delimiterKeys.to(torch::kFloat64).view({p.size(0), 1, 1, T});
      delimiter = perHead((P * isDelim).sum(3));
    }
    for (int64_t h = 0; h < p.size(1); ++h) {
      HeadProfile hp;
      hp.layer = int64_t(layer);
      hp.head = h;
      hp.previousToken = prev[h].item<double>();
      hp.self = self[h].item<double>();
      hp.sink = sink[h].item<double>();
      hp.delimiter = delimiter.defined() ? delimiter[h].item<double>() : 0.0;
      hp.local = local[h].item<double>();
      hp.meanDistance = meanDist[h].item<double>();
      hp.entropy = entropy[h].item<double>();
      hp.kind = hp.previousToken >= o.dominant ? "previous-token"
                : hp.sink >= o.dominant        ? "sink"
                : hp.self >= o.dominant        ? "self"
                : hp.delimiter >= o.dominant   ? "delimiter"
                : hp.local >= o.localDominant  ? "local"
                                               : "broad";
      out.push_back(hp);
    }
  }
  return out;
}

}  // namespace attnx
