// A read-only text of a prompt and its generated tokens, each token a hover target: the token where
// teacher and student texts first split is marked, the tokens after it set apart (each text follows
// its own path from there), and the tooltip shows the per-token KL and both top-5 candidates.
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
  // split: the first position where the other model's text differs (-1: none so far).
  void setTokens(const QStringList& tokens, int split);
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
  int split_ = -1;
  std::vector<TokenComparison> comparisons_;
};

}  // namespace attnx::ui
