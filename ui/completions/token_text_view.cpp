#include "ui/completions/token_text_view.h"

#include <QHelpEvent>
#include <QToolTip>

namespace attnx::ui {

TokenTextView::TokenTextView(QWidget* parent) : QTextEdit(parent) {
  setReadOnly(true);
  setMouseTracking(true);
  setMinimumHeight(90);
}

void TokenTextView::setPrompt(const QString& prompt) {
  prompt_ = prompt;
  tokens_.clear();
  comparisons_.clear();
  split_ = -1;
  render();
}

void TokenTextView::setTokens(const QStringList& tokens, int split) {
  tokens_ = tokens;
  split_ = split;
  render();
}

void TokenTextView::setComparisons(std::vector<TokenComparison> comparisons) {
  comparisons_ = std::move(comparisons);
  render();
}

void TokenTextView::render() {
  QString html = QStringLiteral("<span style='color:#777'>%1</span>").arg(prompt_.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>")));
  for (int i = 0; i < tokens_.size(); ++i) {
    // Shared text in black; the split token in bold on red; what follows in dark blue, its own path.
    QString style = QStringLiteral("color:black;");
    if (split_ >= 0 && i == split_) style = QStringLiteral("color:black; background:#ff9e9e; font-weight:bold;");
    else if (split_ >= 0 && i > split_) style = QStringLiteral("color:#1f4e8c;");
    QString text = tokens_[i].toHtmlEscaped();
    text.replace(QStringLiteral("\u23CE"), QStringLiteral("\u23CE<br>"));
    // An anchor per token so that the tooltip can find which token the mouse is over.
    html += QStringLiteral("<a href='tok:%1' style='text-decoration:none; %2'>%3</a>").arg(i).arg(style, text);
  }
  setHtml(html);
}

QString TokenTextView::tokenToolTip(int i) const {
  if (i < 0 || i >= tokens_.size()) return {};
  QString tip = tr("<b>token %1</b> \u201C%2\u201D").arg(i).arg(tokens_[i].toHtmlEscaped());
  if (split_ >= 0 && i == split_)
    tip += tr("<br><span style='color:#b00020'>the texts split here: the other model chose another token</span>");
  else if (split_ >= 0 && i > split_)
    tip += tr("<br><span style='color:#1f4e8c'>after the split: this text follows its own path</span>");
  if (i >= static_cast<int>(comparisons_.size())) return tip + tr("<br>(KL and top-5 when the sample is finished)");
  const auto& c = comparisons_[static_cast<size_t>(i)];
  tip += tr("<br>KL(teacher \u2016 student) of the next-token distributions: <b>%1</b> nats").arg(c.kl, 0, 'f', 4);
  tip += QStringLiteral("<table><tr><th align=left>%1</th><th></th><th align=left>%2</th><th></th></tr>").arg(tr("teacher"), tr("student"));
  for (size_t k = 0; k < std::max(c.teacherTop.size(), c.studentTop.size()); ++k) {
    auto cell = [](const std::vector<TopCandidate>& v, size_t k) {
      if (k >= v.size()) return QStringLiteral("<td></td><td></td>");
      return QStringLiteral("<td>%1</td><td align=right>%2</td>").arg(v[k].label.toHtmlEscaped()).arg(v[k].probability, 0, 'f', 3);
    };
    tip += QStringLiteral("<tr>") + cell(c.teacherTop, k) + cell(c.studentTop, k) + QStringLiteral("</tr>");
  }
  return tip + QStringLiteral("</table>");
}

bool TokenTextView::viewportEvent(QEvent* event) {
  if (event->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(event);
    const QString anchor = anchorAt(he->pos());
    if (anchor.startsWith(QLatin1String("tok:"))) {
      QToolTip::showText(he->globalPos(), tokenToolTip(anchor.mid(4).toInt()), viewport());
      return true;
    }
    QToolTip::hideText();
    return true;
  }
  return QTextEdit::viewportEvent(event);
}

}  // namespace attnx::ui
