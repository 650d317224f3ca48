// attnx-cli tokenize --text T: GPT-2 token ids of a text.
#include <iostream>

#include "app/cli/commands.h"

namespace attnx::cli {

Runner addTokenizeCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("tokenize", "Split text into GPT-2 token ids");
  auto text = std::make_shared<std::string>();
  sub->add_option("--text", *text, "Text to tokenize (UTF-8)")->required();
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  return [&g, text] {
    const auto tok = loadTokenizer(g);
    const auto ids = tok.encode(*text);
    if (g.json) {
      nlohmann::json tokens = nlohmann::json::array();
      for (int id : ids) tokens.push_back(tok.tokenBytes(id));
      printJson({{"ids", ids}, {"tokens", tokens}, {"count", ids.size()}});
      return 0;
    }
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n(" << ids.size() << " tokens)\n";
    return 0;
  };
}

}  // namespace attnx::cli
