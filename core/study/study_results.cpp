// study.json and study.csv; see study_results.h.
#include "core/study/study_results.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/study/study_config.h"
#include "core/util/json_document.h"

namespace attnx {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

std::string nowIso() {
  const std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

std::string csvField(const json& v) {
  if (v.is_null()) return "";
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

StudyResults StudyResults::read(const fs::path& outDir) {
  StudyResults r;
  r.dir_ = fs::absolute(outDir);
  const auto path = (r.dir_ / "study.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StudyError(path + ": cannot open (run the study first)");
  std::stringstream ss;
  ss << in.rdbuf();
  r.doc_ = parseJsonDocumentAs<StudyError>(ss.str(), path);
  if (!r.doc_.is_object() || r.doc_.value("format", "") != kFormat || r.doc_.value("version", 0) != kVersion)
    throw StudyError(path + ": not attnx study results (\"format\" must be \"" + kFormat + "\", version " +
                     std::to_string(kVersion) + ")");
  if (!r.doc_.contains("plans") || !r.doc_["plans"].is_array()) throw StudyError(path + ": field \"plans\" must be a list");
  for (size_t i = 0; i < r.doc_["plans"].size(); ++i) {
    const auto& e = r.doc_["plans"][i];
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string())
      throw StudyError(path + ": plans[" + std::to_string(i) + "]: field \"id\" must be a string");
    r.index_[e["id"].get<std::string>()] = i;
  }
  r.elapsedBefore_ = r.doc_.value("elapsed_s", 0.0);
  return r;
}

StudyResults StudyResults::open(const fs::path& outDir, const json& config) {
  if (fs::exists(outDir / "study.json")) {
    auto r = read(outDir);
    if (r.doc_.value("config", json()) != config)
      throw StudyError((r.dir_ / "study.json").string() +
                       ": holds a study made from another config; choose another --out (or move that folder away)");
    return r;
  }
  StudyResults r;
  r.dir_ = fs::absolute(outDir);
  r.doc_ = {{"format", kFormat}, {"version", kVersion}, {"config", config}, {"started", nowIso()},
            {"elapsed_s", 0.0}, {"plans", json::array()}};
  return r;
}

void StudyResults::add(json entry) {
  const auto id = entry.at("id").get<std::string>();
  if (has(id)) throw std::logic_error("study results: entry \"" + id + "\" added twice");
  index_[id] = doc_["plans"].size();
  doc_["plans"].push_back(std::move(entry));
  save();
}

void StudyResults::set(const std::string& key, json value) {
  doc_[key] = std::move(value);
  save();
}

void StudyResults::setTeacher(const std::string& dir, const Gpt2Config& c, const std::vector<int64_t>& lengths,
                              const MachineInfo& m) {
  auto teacher = doc_.value("teacher", json::object());
  teacher["dir"] = dir;
  teacher["layers"] = c.numLayers;
  teacher["heads"] = c.numHeads;
  teacher["head_dim"] = c.headDim();
  teacher["context"] = c.contextLength;
  teacher["eval_lengths"] = lengths;
  doc_["teacher"] = teacher;
  doc_["machine"] = {{"cpu", m.cpuModel}, {"logical_cores", m.logicalCores}, {"load_1min", m.load1}};
  save();
}

void StudyResults::finish() {
  doc_["finished"] = nowIso();
  save();
}

std::string StudyResults::relative(const std::string& path) const {
  return fs::absolute(path).lexically_normal().lexically_relative(dir_).generic_string();
}

std::string StudyResults::absolute(const std::string& relativePath) const { return (dir_ / relativePath).string(); }

void StudyResults::save() const {
  auto doc = doc_;
  doc["elapsed_s"] = elapsedBefore_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
  writeFileAtomically((dir_ / "study.json").string(),
                      doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
  writeFileAtomically((dir_ / "study.csv").string(), csvText(doc));
}

std::string StudyResults::csvText(const json& doc) {
  static const std::vector<std::string> columns = {
      "id", "kind", "family", "variant", "seed", "target", "n", "density", "kl_per_token", "student_perplexity",
      "teacher_perplexity", "top1_agreement", "attention_flops", "dense_attention_flops", "model_ms", "peak_bytes",
      "run", "plan"};
  std::ostringstream out;
  for (size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << columns[i];
  out << '\n';
  for (const auto& e : doc.value("plans", json::array())) {
    for (size_t i = 0; i < columns.size(); ++i) out << (i ? "," : "") << csvField(e.value(columns[i], json()));
    out << '\n';
  }
  return out.str();
}

}  // namespace attnx
