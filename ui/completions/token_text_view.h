// A read-only text of a prompt and its generated tokens, each token a hover target: divergent
// tokens are highlighted and the tooltip shows the per-token KL and both top-5 candidates.
#pragma once

#include <QTextEdit>
#include <vector>

#include "ui/bridge/analysis_session.h"

namespace attnx::ui {

class TokenTextView : public QTextEdit {
  Q_OBJECT
 public:
  explicit TokenTextView(QWidget* parent = nullptr);

  void setPrompt(const QString& prompt);
  void setTokens(const QStringList& tokens, const std::vector<bool>& diverged, int firstDivergence);
  void setComparisons(std::vector<TokenComparison> comparisons);
  // The tooltip text of token i ("" when nothing is known yet); for tests.
  QString tokenToolTip(int i) const;
  int tokenCount() const { return tokens_.size(); }

 protected:
  bool viewportEvent(QEvent* event) override;

 private:
  void render();
  QString prompt_;
  QStringList tokens_;
  std::vector<bool> diverged_;
  int firstDivergence_ = -1;
  std::vector<TokenComparison> comparisons_;
};

}  // namespace attnx::ui
