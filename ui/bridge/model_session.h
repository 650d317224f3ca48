// The desktop app's handle on its loaded teacher model: a Qt-facing view of core's Teacher, which
// the analysis views and a frozen-weight distillation share instead of loading their own copies.
#pragma once

#include <QString>
#include <memory>

namespace attnx {
struct Teacher;  // core/eval/teacher.h
}

namespace attnx::ui {

struct ModelSummary {
  QString folder;
  qint64 parameters = 0;
  int layers = 0, heads = 0, width = 0, context = 0, vocab = 0;
};

class ModelSession {
 public:
  ModelSession();
  ~ModelSession();
  // Loads a GPT-2 folder and its tokenizer (empty: the default model). Returns an empty string on
  // success, else the loader's message for the user.
  QString load(const QString& folder);
  bool isLoaded() const;
  ModelSummary summary() const;
  // The loaded model, for a run's analysis or training to share (nullptr before a load).
  std::shared_ptr<attnx::Teacher> teacher() const { return teacher_; }

 private:
  std::shared_ptr<attnx::Teacher> teacher_;
  ModelSummary summary_;
};

}  // namespace attnx::ui
