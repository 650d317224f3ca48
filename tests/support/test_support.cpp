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

nlohmann::json readJsonFile(const std::string& path) { return nlohmann::json::parse(readTextFile(path)); }

}  // namespace attnx::test
