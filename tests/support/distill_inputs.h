// What a distillation test hands the real attnx-cli: a random tiny GPT-2 teacher (GPT-2's
// vocabulary, 2 layers x 4 heads, width 64) written to `dir`/teacher, the local-sinks bank, and two
// fetched books, one to train on and one held out.
#pragma once

#include <cstdint>
#include <string>

#include <QString>

#include "core/io/gpt2_checkpoint.h"
#include "tests/support/test_support.h"

namespace attnx::test {

struct DistillInputs {
  QString teacher, bank, train, held;
};

inline DistillInputs makeDistillInputs(const std::string& dir, uint64_t seed) {
  Gpt2 m(Gpt2Config::preset("tiny"));
  m->initWeights(seed);
  saveGpt2(m, dir + "/teacher");
  DistillInputs in;
  in.teacher = QString::fromStdString(dir + "/teacher");
  in.bank = QString::fromStdString(fixture("../../resources/banks/local-sinks.json"));
  in.train = QString::fromStdString(dataDir() + "/corpus/validation/gutenberg-chesterton-brown.txt");
  in.held = QString::fromStdString(dataDir() + "/corpus/test/gutenberg-austen-persuasion.txt");
  return in;
}

}  // namespace attnx::test
