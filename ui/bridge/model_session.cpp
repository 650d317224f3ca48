#include "ui/bridge/model_session.h"

#include <optional>

#include "core/eval/teacher.h"

namespace attnx::ui {

ModelSession::ModelSession() = default;
ModelSession::~ModelSession() = default;

QString ModelSession::load(const QString& folder) {
  try {
    std::optional<std::string> requested;
    if (!folder.isEmpty()) requested = folder.toStdString();
    auto teacher = Teacher::load(requested);
    const auto& c = teacher->model->config();
    ModelSummary s;
    s.folder = QString::fromStdString(teacher->dir);
    s.parameters = teacher->parameterCount();
    s.layers = static_cast<int>(c.numLayers);
    s.heads = static_cast<int>(c.numHeads);
    s.width = static_cast<int>(c.embedDim);
    s.context = static_cast<int>(c.contextLength);
    s.vocab = static_cast<int>(c.vocabSize);
    teacher_ = std::move(teacher);
    summary_ = s;
    return {};
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
}

bool ModelSession::isLoaded() const { return teacher_ != nullptr; }
ModelSummary ModelSession::summary() const { return summary_; }

}  // namespace attnx::ui
