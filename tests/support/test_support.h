// Small helpers shared by the test executables: fixture paths, JSON fixtures, tensor comparison.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace attnx::test {

std::string fixture(const std::string& relative);  // tests/fixtures/<relative>
std::string dataDir();                             // the fetched data folder
nlohmann::json readJsonFile(const std::string& path);
std::string readTextFile(const std::string& path);

}  // namespace attnx::test
