#include "core/io/gpt2_checkpoint.h"

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"

namespace attnx {
namespace fs = std::filesystem;

namespace {

// Linear layers that Hugging Face stores as Conv1D, i.e. transposed ([in, out]).
bool isConv1dWeight(const std::string& name) {
  static const std::regex re(R"(h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight)");
  return std::regex_match(name, re);
}

bool isIgnoredBuffer(const std::string& name) {
  static const std::regex re(R"(h\.\d+\.attn\.(bias|masked_bias))");
  return std::regex_match(name, re);
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

std::vector<int64_t> toVector(torch::IntArrayRef a) { return {a.begin(), a.end()}; }

std::optional<torch::Dtype> torchDtype(DType d) {
  switch (d) {
    case DType::F64: return torch::kFloat64;
    case DType::F32: return torch::kFloat32;
    case DType::F16: return torch::kFloat16;
    case DType::BF16: return torch::kBFloat16;
    default: return std::nullopt;
  }
}

DType fileDtype(torch::Dtype d) {
  if (d == torch::kFloat32) return DType::F32;
  if (d == torch::kFloat16) return DType::F16;
  if (d == torch::kBFloat16) return DType::BF16;
  if (d == torch::kFloat64) return DType::F64;
  throw std::invalid_argument("saveGpt2: unsupported storage type (use float32, float16 or bfloat16)");
}

// Every parameter a model of this config has, in the model's order, with its checkpoint-layout shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> expectedTensors(const Gpt2Config& c) {
  const int64_t E = c.embedDim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> t{{"wte.weight", {c.vocabSize, E}},
                                                              {"wpe.weight", {c.contextLength, E}}};
  for (int64_t l = 0; l < c.numLayers; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    t.insert(t.end(), {{h + "ln_1.weight", {E}},
                       {h + "ln_1.bias", {E}},
                       {h + "attn.c_attn.weight", {E, 3 * E}},
                       {h + "attn.c_attn.bias", {3 * E}},
                       {h + "attn.c_proj.weight", {E, E}},
                       {h + "attn.c_proj.bias", {E}},
                       {h + "ln_2.weight", {E}},
                       {h + "ln_2.bias", {E}},
                       {h + "mlp.c_fc.weight", {E, 4 * E}},
                       {h + "mlp.c_fc.bias", {4 * E}},
                       {h + "mlp.c_proj.weight", {4 * E, E}},
                       {h + "mlp.c_proj.bias", {E}}});
  }
  t.insert(t.end(), {{"ln_f.weight", {E}}, {"ln_f.bias", {E}}});
  return t;
}

}  // namespace

bool isGpt2Folder(const std::string& dir) {
  return fs::is_regular_file(fs::path(dir) / "config.json") && fs::is_regular_file(fs::path(dir) / "model.safetensors");
}

Gpt2 loadGpt2(const std::string& dir, const Gpt2LoadOptions& options) {
  const fs::path folder(dir);
  if (!fs::is_directory(folder)) throw std::runtime_error(dir + ": not a folder (expected a GPT-2 model folder)");
  const auto config = Gpt2Config::fromJsonFile((folder / "config.json").string());
  const auto weightsPath = (folder / "model.safetensors").string();
  if (!fs::exists(weightsPath))
    throw std::runtime_error(weightsPath + ": missing (a GPT-2 folder needs config.json and model.safetensors; "
                             "pytorch_model.bin is not supported, convert it to safetensors)");
  const auto file = SafetensorsFile::open(weightsPath);

  // Check the file against the config before allocating anything: a config.json that does not
  // describe these weights (n_layer = 10^6, say) is refused, not allocated.
  const auto expected = expectedTensors(config);
  std::set<std::string> expectedNames;
  for (const auto& e : expected) expectedNames.insert(e.first);
  std::vector<std::string> problems;
  std::map<std::string, const TensorInfo*> byName;
  const TensorInfo* lmHead = nullptr;
  for (const auto& t : file.tensors()) {
    std::string name = t.name;
    if (name.rfind("transformer.", 0) == 0) name = name.substr(12);
    if (isIgnoredBuffer(name)) continue;
    if (name == "lm_head.weight") { lmHead = &t; continue; }
    if (!expectedNames.count(name)) { problems.push_back("unexpected tensor " + t.name); continue; }
    if (byName.count(name)) { problems.push_back("tensor " + name + " appears twice (with and without \"transformer.\")"); continue; }
    byName[name] = &t;
  }
  auto checkTensor = [&](const std::string& name, const TensorInfo& t, const std::vector<int64_t>& shape) {
    if (t.shape != shape)
      problems.push_back("tensor " + name + " has shape " + shapeText(t.shape) + ", expected " + shapeText(shape));
    else if (!torchDtype(t.dtype))
      problems.push_back("tensor " + name + " has type " + dtypeName(t.dtype) + ", expected F32, F16, BF16 or F64");
  };
  size_t missing = 0;
  for (const auto& [name, shape] : expected) {
    const auto it = byName.find(name);
    if (it != byName.end()) checkTensor(name, *it->second, shape);
    else if (++missing <= 8) problems.push_back("missing tensor " + name + " (expected shape " + shapeText(shape) + ")");
  }
  if (missing > 8) problems.push_back("... and " + std::to_string(missing - 8) + " more missing tensors (does config.json describe these weights?)");
  if (lmHead) checkTensor("lm_head.weight", *lmHead, {config.vocabSize, config.embedDim});
  if (!problems.empty()) {
    std::string msg = weightsPath + ": " + std::to_string(problems.size()) + " problem" +
                      (problems.size() == 1 ? "" : "s") + " with the GPT-2 weights";
    for (const auto& p : problems) msg += "\n  " + p;
    throw std::runtime_error(msg);
  }

  Gpt2 model(config);
  torch::NoGradGuard noGrad;
  auto params = model->named_parameters(/*recurse=*/true);

  // Copy out of the mapping (the file is closed when we return), transposing Conv1D weights once.
  auto readTensor = [&](const TensorInfo& t) {
    auto view = torch::from_blob(const_cast<std::byte*>(file.data(t)), t.shape, torch::TensorOptions().dtype(*torchDtype(t.dtype)));
    if (!torch::isfinite(view).all().item<bool>())
      throw std::runtime_error(weightsPath + ": tensor " + t.name + " holds NaN or Inf values; the file is damaged");
    const auto target = options.dtype.value_or(*torchDtype(t.dtype));
    return view.to(target, /*non_blocking=*/false, /*copy=*/true);
  };
  for (auto& p : params) {
    auto value = readTensor(*byName.at(p.key()));
    if (isConv1dWeight(p.key())) value = value.t().contiguous();
    p.value().set_data(value);
  }
  if (lmHead) {
    auto head = readTensor(*lmHead);
    if (!torch::equal(head, model->wte->weight)) model->untieLmHead(head);
  }
  model->to(options.device);
  model->eval();
  return model;
}

void saveGpt2(Gpt2& model, const std::string& dir, torch::Dtype storeAs) {
  fs::create_directories(dir);
  const DType fileType = fileDtype(storeAs);
  std::vector<torch::Tensor> keepAlive;
  std::vector<TensorToWrite> records;
  for (const auto& p : model->named_parameters(true)) {
    auto t = p.value().detach().to(torch::kCPU).to(storeAs);
    if (isConv1dWeight(p.key())) t = t.t();
    t = t.contiguous();
    keepAlive.push_back(t);
    const std::string name = p.key() == "lm_head" ? "lm_head.weight" : p.key();
    records.push_back({name, fileType, toVector(t.sizes()), t.data_ptr(), static_cast<size_t>(t.nbytes())});
  }
  writeSafetensors((fs::path(dir) / "model.safetensors").string(), records, {{"format", "pt"}});
  writeFileAtomically((fs::path(dir) / "config.json").string(), model->config().toJsonText());
}

}  // namespace attnx
