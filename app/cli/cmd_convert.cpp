// attnx-cli convert --model DIR --out DIR [--dtype f16|bf16|f32]: rewrites a GPT-2 folder with its
// weights stored in another precision (how the embedded default model is made: fp16 halves its size).
// The tokenizer files travel with the model when the source folder has them.
#include <cstdio>
#include <filesystem>

#include "app/cli/commands.h"
#include "core/io/gpt2_checkpoint.h"
#include "core/io/model_locator.h"

namespace attnx::cli {

Runner addConvertCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("convert", "Write a GPT-2 folder again with fp16, bf16 or fp32 weights");
  struct Args { std::string out, dtype = "f16"; };
  auto a = std::make_shared<Args>();
  sub->add_option("--out", a->out, "Output folder (created; config.json and model.safetensors are replaced)")
      ->required();
  sub->add_option("--dtype", a->dtype, "Storage type of the weights")
      ->check(CLI::IsMember({"f16", "bf16", "f32"}));
  addModelOption(sub, g);
  addJsonFlag(sub, g);
  return [&g, a] {
    namespace fs = std::filesystem;
    const auto source = resolveModelDir(g.modelDir);
    auto model = loadModel(g);
    const auto dtype = a->dtype == "f16" ? torch::kFloat16 : a->dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    fs::create_directories(a->out);
    saveGpt2(model, a->out, dtype);
    for (const char* name : {"vocab.json", "merges.txt"}) {
      const auto from = fs::path(source) / name;
      if (fs::is_regular_file(from) && fs::absolute(from) != fs::absolute(fs::path(a->out) / name))
        fs::copy_file(from, fs::path(a->out) / name, fs::copy_options::overwrite_existing);
    }
    const auto bytes = fs::file_size(fs::path(a->out) / "model.safetensors");
    if (g.json) {
      printJson({{"out", a->out}, {"dtype", a->dtype}, {"model_bytes", bytes}});
    } else {
      std::printf("wrote %s (%s weights, model.safetensors %.1f MB)\n", a->out.c_str(), a->dtype.c_str(),
                  double(bytes) / 1e6);
    }
    return 0;
  };
}

}  // namespace attnx::cli
