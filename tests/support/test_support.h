// Small helpers shared by the test executables: fixture paths, JSON fixtures, tensor comparison.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/masks/mask_bank.h"

namespace attnx::test {

std::string fixture(const std::string& relative);  // tests/fixtures/<relative>
std::string dataDir();                             // the fetched data folder
nlohmann::json readJsonFile(const std::string& path);
std::string readTextFile(const std::string& path);
void writeTextFile(const std::string& path, const std::string& text);  // throws when it cannot

// The message of the exception `f` throws, or "" when it throws none.
std::string errorOf(const std::function<void()>& f);

// A validated bank of `masks`.
MaskBank makeBank(std::vector<MaskSpec> masks, const std::string& name = "test");

}  // namespace attnx::test
