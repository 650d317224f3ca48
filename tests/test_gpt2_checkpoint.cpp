// The Hugging Face GPT-2 folder loader: every bad input gets its exact message; good variants
// (with or without the "transformer." prefix, tied or separate lm_head, save/load) load the same model.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/io/safetensors.h"
#include "tests/support/test_support.h"

using namespace attnx;
namespace fs = std::filesystem;

namespace {

struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string bytes;
};

std::vector<Entry> readEntries(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  std::vector<Entry> out;
  for (const auto& t : f.tensors())
    out.push_back({t.name, t.dtype, t.shape, std::string(reinterpret_cast<const char*>(f.data(t)), t.end - t.begin)});
  return out;
}

void writeEntries(const std::string& path, const std::vector<Entry>& entries) {
  std::vector<TensorToWrite> w;
  for (const auto& e : entries) w.push_back({e.name, e.dtype, e.shape, e.bytes.data(), e.bytes.size()});
  writeSafetensors(path, w);
}

void writeText(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }


}  // namespace

class TestGpt2Checkpoint : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  std::string dir_;  // a fresh copy of the tiny fixture for each test
  std::vector<Entry> entries_;

  void rewrite() { writeEntries(dir_ + "/model.safetensors", entries_); }
  Entry& entry(const std::string& name) {
    for (auto& e : entries_)
      if (e.name == name) return e;
    throw std::runtime_error("fixture has no tensor " + name);
  }
  std::string weights() const { return dir_ + "/model.safetensors"; }

 private Q_SLOTS:
  void init() {
    dir_ = (fs::path(tmp_.path().toStdString()) / QTest::currentTestFunction()).string();
    fs::create_directories(dir_);
    fs::copy_file(test::fixture("gpt2-tiny/config.json"), dir_ + "/config.json");
    entries_ = readEntries(test::fixture("gpt2-tiny/model.safetensors"));
    rewrite();
  }

  void loadsFixture() {
    auto m = loadGpt2(dir_);
    QCOMPARE(m->config().numLayers, int64_t(2));
    QVERIFY(m->lmHeadTied());
    // Conv1D [in, out] became Linear [out, in]: compare one weight against the raw bytes.
    const auto& e = entry("transformer.h.0.attn.c_attn.weight");
    auto raw = torch::from_blob(const_cast<char*>(e.bytes.data()), e.shape, torch::kFloat32);
    QVERIFY(torch::equal(m->h[0]->as<Gpt2Block>()->attn->c_attn->weight, raw.t()));
  }

  void notAFolder() {
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_ + "/nope"); })),
             QString::fromStdString(dir_ + "/nope: not a folder (expected a GPT-2 model folder)"));
  }

  void missingConfig() {
    fs::remove(dir_ + "/config.json");
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(dir_ + "/config.json: cannot open (missing config.json?)"));
  }

  void configNotJson() {
    writeText(dir_ + "/config.json", "{ n_embd: 32 ");
    const auto msg = test::errorOf([&] { loadGpt2(dir_); });
    QVERIFY2(msg.rfind(dir_ + "/config.json: not valid JSON (", 0) == 0, msg.c_str());
  }

  void configBadField() {
    writeText(dir_ + "/config.json", R"({"n_embd": 30, "n_head": 4, "n_layer": 2, "n_positions": 64, "vocab_size": 311})");
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(dir_ + "/config.json: invalid GPT-2 config: n_embd (30) must be divisible by n_head (4)"));
    writeText(dir_ + "/config.json", R"({"n_embd": "32"})");
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(dir_ + "/config.json: field \"n_embd\" must be an integer"));
    writeText(dir_ + "/config.json", R"({"activation_function": "relu"})");
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(dir_ + "/config.json: activation_function \"relu\" is not supported (GPT-2 uses gelu_new)"));
  }

  void missingWeights() {
    fs::remove(weights());
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(weights() + ": missing (a GPT-2 folder needs config.json and model.safetensors; "
                                                "pytorch_model.bin is not supported, convert it to safetensors)"));
  }

  void missingTensor() {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [](const Entry& e) { return e.name == "transformer.h.1.mlp.c_fc.bias"; }),
                   entries_.end());
    rewrite();
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(weights() + ": 1 problem with the GPT-2 weights\n"
                                                "  missing tensor h.1.mlp.c_fc.bias (expected shape [128])"));
  }

  void extraTensor() {
    entries_.push_back({"transformer.h.0.attn.q_proj.weight", DType::F32, {2}, std::string(8, '\0')});
    rewrite();
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(weights() + ": 1 problem with the GPT-2 weights\n"
                                                "  unexpected tensor transformer.h.0.attn.q_proj.weight"));
  }

  void wrongShape() {
    // The classic mistake: a Linear [out, in] weight saved where Conv1D [in, out] is expected.
    auto& e = entry("transformer.h.1.attn.c_attn.weight");
    e.shape = {96, 32};
    auto& f = entry("transformer.wpe.weight");
    f.shape = {32, 64};
    rewrite();
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(weights() + ": 2 problems with the GPT-2 weights\n"
                                                "  tensor wpe.weight has shape [32, 64], expected [64, 32]\n"
                                                "  tensor h.1.attn.c_attn.weight has shape [96, 32], expected [32, 96]"));
  }

  void wrongDtype() {
    auto& e = entry("transformer.ln_f.bias");
    e.dtype = DType::I32;
    rewrite();
    QCOMPARE(QString::fromStdString(test::errorOf([&] { loadGpt2(dir_); })),
             QString::fromStdString(weights() + ": 1 problem with the GPT-2 weights\n"
                                                "  tensor ln_f.bias has type I32, expected F32, F16, BF16 or F64"));
  }

  void corruptFile() {
    writeText(weights(), "not a safetensors file at all");
    const auto msg = test::errorOf([&] { loadGpt2(dir_); });
    QVERIFY2(msg.rfind(weights() + ": ", 0) == 0, msg.c_str());
  }

  void withoutPrefixSameModel() {
    auto withPrefix = loadGpt2(dir_);
    for (auto& e : entries_) e.name = e.name.substr(std::string("transformer.").size());
    rewrite();
    auto plain = loadGpt2(dir_);
    auto ids = torch::tensor(std::vector<int64_t>{1, 5, 9, 300}).unsqueeze(0);
    torch::NoGradGuard g;
    QVERIFY(torch::equal(withPrefix->forward(ids), plain->forward(ids)));
  }

  void lmHeadTiedOrSeparate() {
    const Entry wte = entry("transformer.wte.weight");
    entries_.push_back({"lm_head.weight", wte.dtype, wte.shape, wte.bytes});
    rewrite();
    QVERIFY(loadGpt2(dir_)->lmHeadTied());  // identical to wte: stays tied

    // A different head is loaded and used for the logits.
    Entry head = wte;
    head.name = "lm_head.weight";
    auto* f = reinterpret_cast<float*>(head.bytes.data());
    for (size_t i = 0; i < head.bytes.size() / 4; ++i) f[i] *= -1.0f;
    entries_.back() = head;
    rewrite();
    auto m = loadGpt2(dir_);
    QVERIFY(!m->lmHeadTied());
    torch::NoGradGuard g;
    auto hidden = m->hidden(torch::tensor(std::vector<int64_t>{3, 4}).unsqueeze(0));
    QVERIFY(torch::allclose(m->logits(hidden), -torch::matmul(hidden, m->wte->weight.t())));
  }

  void keepsStoredDtypeOnRequest() {
    Gpt2LoadOptions o;
    o.dtype = std::nullopt;
    auto m = loadGpt2(test::fixture("gpt2-tiny-f16"), o);
    QCOMPARE(m->wte->weight.scalar_type(), torch::kHalf);
    auto up = loadGpt2(test::fixture("gpt2-tiny-f16"));
    QCOMPARE(up->wte->weight.scalar_type(), torch::kFloat);
  }

  void saveLoadRoundTrip() {
    auto m = loadGpt2(dir_);
    const auto out = dir_ + "/saved";
    saveGpt2(m, out);
    auto back = loadGpt2(out);
    for (const auto& p : m->named_parameters()) QVERIFY(torch::equal(p.value(), back->named_parameters()[p.key()]));
    QCOMPARE(back->config().toJsonText(), m->config().toJsonText());
  }
};

QTEST_APPLESS_MAIN(TestGpt2Checkpoint)
#include "test_gpt2_checkpoint.moc"
