// Finding the model and tokenizer a command means when the user names none.
#pragma once

#include <optional>
#include <string>

namespace attnx {

// The folder of the default model: $ATTNX_DEFAULT_MODEL, else the installed share/attnx/default-model,
// else the source tree's resources/default-model. Throws std::runtime_error saying how to name a
// model when none exists.
std::string defaultModelDir();

// `requested` when given, else defaultModelDir().
std::string resolveModelDir(const std::optional<std::string>& requested);

// The folder holding vocab.json and merges.txt for a model: the model folder itself when it has
// them, else the fetched GPT-2 tokenizer (data/gpt2-tokenizer). Throws when neither exists.
std::string tokenizerDirFor(const std::string& modelDir);

}  // namespace attnx
