// The desktop app's handle on a loaded teacher model. Qt-facing API, LibTorch inside (pimpl), so
// that widgets never include torch.
#pragma once

#include <QString>
#include <memory>

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
  // Loads a GPT-2 folder (empty: the default model). Returns an empty string on success, else
  // the loader's message for the user.
  QString load(const QString& folder);
  bool isLoaded() const;
  ModelSummary summary() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace attnx::ui
