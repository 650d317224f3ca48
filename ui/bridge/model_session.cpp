#include "ui/bridge/model_session.h"

#include <optional>

#include <torch/torch.h>

#include "core/io/gpt2_checkpoint.h"
#include "core/io/model_locator.h"

namespace attnx::ui {

struct ModelSession::State {
  Gpt2 model{nullptr};
  QString folder;
};

ModelSession::ModelSession() : state_(std::make_unique<State>()) {}
ModelSession::~ModelSession() = default;

QString ModelSession::load(const QString& folder) {
  try {
    std::optional<std::string> requested;
    if (!folder.isEmpty()) requested = folder.toStdString();
    const auto dir = resolveModelDir(requested);
    state_->model = loadGpt2(dir);
    state_->folder = QString::fromStdString(dir);
    return {};
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
}

bool ModelSession::isLoaded() const { return !state_->model.is_empty(); }

ModelSummary ModelSession::summary() const {
  ModelSummary s;
  if (!isLoaded()) return s;
  const auto& c = state_->model->config();
  s.folder = state_->folder;
  for (const auto& p : state_->model->parameters()) s.parameters += p.numel();
  s.layers = static_cast<int>(c.numLayers);
  s.heads = static_cast<int>(c.numHeads);
  s.width = static_cast<int>(c.embedDim);
  s.context = static_cast<int>(c.contextLength);
  s.vocab = static_cast<int>(c.vocabSize);
  return s;
}

}  // namespace attnx::ui
