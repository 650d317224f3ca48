#include "core/eval/sampling_options.h"

#include <cmath>
#include <stdexcept>

namespace attnx {

void SamplingOptions::validate() const {
  if (maxNewTokens < 0) throw std::invalid_argument("max new tokens must be ≥ 0");
  if (!(repetitionPenalty > 0) || !std::isfinite(repetitionPenalty))
    throw std::invalid_argument("the repetition penalty must be > 0 (1 turns it off)");
  if (greedy) return;
  if (!(temperature > 0) || !std::isfinite(temperature)) throw std::invalid_argument("temperature must be > 0");
  if (topK < 0) throw std::invalid_argument("top-k must be ≥ 0 (0 disables it)");
  if (!(topP > 0 && topP <= 1)) throw std::invalid_argument("top-p must be in (0, 1]");
}

}  // namespace attnx
