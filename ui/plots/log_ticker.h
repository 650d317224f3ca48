// Log-axis ticks a reader can trust. QCPAxisTickerLog labels a narrow range with the same rounded
// power twice ("2·10⁰, 2·10⁰") and, with the "g" format, prints "100000" beside "10⁶". This ticker
// labels each tick once and uses one number format per axis: powers of ten ("10⁵ 10⁶", sub-ticks at
// 2..9 × 10ᵏ) when at least two powers of ten are in view, else plain numbers at 1-2-5 (or finer)
// steps, with as many decimals as the labels need to differ.
#pragma once

#include "ui/plots/qcp.h"

namespace attnx::ui {

class LogTicker : public QCPAxisTicker {
 public:
  static constexpr int kMaxTicks = 8;

  void generate(const QCPRange& range, const QLocale& locale, QChar formatChar, int precision, QVector<double>& ticks,
                QVector<double>* subTicks, QVector<QString>* tickLabels) override;
};

// A logarithmic axis with LogTicker and the "eb" number format (powers drawn as 10 with a
// superscript); setLinearAxis undoes it.
void setLogAxis(QCPAxis* axis);
void setLinearAxis(QCPAxis* axis);

}  // namespace attnx::ui
