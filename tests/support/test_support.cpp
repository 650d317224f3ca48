#include "tests/support/test_support.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnx::test {

std::string fixture(const std::string& relative) { return std::string(ATTNX_FIXTURES_DIR) + "/" + relative; }

std::string dataDir() { return ATTNX_DATA_DIR; }

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open test input " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeTextFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write test file " + path);
}

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

MaskBank makeBank(std::vector<MaskSpec> masks, const std::string& name) {
  MaskBank bank;
  bank.name = name;
  bank.masks = std::move(masks);
  bank.validate();
  return bank;
}

nlohmann::json readJsonFile(const std::string& path) { return nlohmann::json::parse(readTextFile(path)); }

}  // namespace attnx::test
