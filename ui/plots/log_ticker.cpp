#include "ui/plots/log_ticker.h"

#include <algorithm>
#include <cmath>

namespace attnx::ui {
namespace {

double pow10(int p) { return std::pow(10.0, p); }

// Each tick's shortest label that states it exactly (so distinct ticks get distinct labels):
// fixed-point for numbers a reader takes in at a glance (0.001 to 99999), else all as m·10ᵏ
// ("2e+04", drawn as 2·10⁴; "1e+05" as 10⁵), never the two mixed on one axis.
QVector<QString> plainLabels(const QVector<double>& ticks, QLocale locale) {
  locale.setNumberOptions(locale.numberOptions() | QLocale::OmitGroupSeparator);
  double largest = 0, smallest = HUGE_VAL;
  for (double t : ticks) {
    largest = std::max(largest, std::fabs(t));
    if (t != 0) smallest = std::min(smallest, std::fabs(t));
  }
  const bool scientific = largest >= 1e5 || smallest < 1e-3;
  QVector<QString> labels;
  for (double t : ticks) {
    QString label;
    for (int digits = 0; digits <= 15; ++digits) {
      label = scientific ? QLocale::c().toString(t, 'e', digits) : QLocale::c().toString(t, 'f', digits);
      if (std::fabs(label.toDouble() - t) <= 1e-9 * std::max(1e-300, std::fabs(t))) break;
    }
    if (!scientific) label.replace(QLatin1Char('.'), locale.decimalPoint());
    labels << label;
  }
  return labels;
}

// m·10ᵖ for every mantissa m of `mantissas` inside [lo, hi].
QVector<double> mantissaTicks(double lo, double hi, const QVector<int>& mantissas) {
  QVector<double> ticks;
  for (int p = int(std::floor(std::log10(lo))) - 1; p <= int(std::ceil(std::log10(hi))); ++p)
    for (int m : mantissas) {
      const double v = m * pow10(p);
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks << v;
    }
  return ticks;
}

}  // namespace

void LogTicker::generate(const QCPRange& range, const QLocale& locale, QChar formatChar, int precision, QVector<double>& ticks,
                         QVector<double>* subTicks, QVector<QString>* tickLabels) {
  const double lo = range.lower, hi = range.upper;
  if (!(lo > 0 && hi > lo && std::isfinite(hi))) {  // not a log range (yet): what a linear axis would show
    QCPAxisTicker::generate(range, locale, formatChar, precision, ticks, subTicks, tickLabels);
    return;
  }
  ticks.clear();
  QVector<double> subs;
  const int firstPower = int(std::ceil(std::log10(lo) - 1e-9)), lastPower = int(std::floor(std::log10(hi) + 1e-9));
  bool powers = lastPower > firstPower;
  if (powers) {
    // Powers of ten, every `stride`-th one so that at most kMaxTicks are labelled; multiples of the
    // stride, so panning does not shift which powers are labelled.
    const int stride = std::max(1, int(std::ceil((lastPower - firstPower) / double(kMaxTicks - 1))));
    const int start = stride * int(std::ceil(firstPower / double(stride)));
    for (int p = start; p <= lastPower; p += stride) ticks << pow10(p);
    for (int p = firstPower - 1; p <= lastPower; ++p) {
      if (stride > 1) {
        if (p % stride != 0 && pow10(p) >= lo && pow10(p) <= hi) subs << pow10(p);
        continue;
      }
      for (int m = 2; m <= 9; ++m)
        if (m * pow10(p) >= lo && m * pow10(p) <= hi) subs << m * pow10(p);
    }
  } else {
    // Less than a decade and a bit: plain numbers at the coarsest mantissas that give three ticks.
    const QVector<QVector<int>> sets = {{1, 2, 5}, {1, 2, 3, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    for (const auto& set : sets) {
      ticks = mantissaTicks(lo, hi, set);
      if (ticks.size() >= 3) break;
    }
    if (ticks.size() < 2) {
      // A narrow range (e.g. 1.5 to 2.5): evenly spaced nice numbers, as on a linear axis.
      ticks = createTickVector(getTickStep(range), range);
      ticks.erase(std::remove_if(ticks.begin(), ticks.end(), [&](double t) { return t < lo || t > hi; }), ticks.end());
    } else if (ticks.size() <= 4) {
      for (double s : mantissaTicks(lo, hi, {2, 3, 4, 5, 6, 7, 8, 9}))
        if (!ticks.contains(s)) subs << s;
    }
  }
  if (subTicks) *subTicks = subs;
  if (tickLabels) {
    tickLabels->clear();
    if (powers) {
      // "1e+05": QCustomPlot draws it as 10⁵ on a log axis with the "eb" number format.
      for (double t : ticks) *tickLabels << QLocale::c().toString(t, 'e', 0);
    } else {
      *tickLabels = plainLabels(ticks, locale);
    }
  }
}

void setLogAxis(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<LogTicker>::create());
  axis->setNumberFormat(QStringLiteral("eb"));
  axis->setNumberPrecision(0);
}

void setLinearAxis(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLinear);
  axis->setTicker(QSharedPointer<QCPAxisTicker>::create());
  axis->setNumberFormat(QStringLiteral("gb"));
  axis->setNumberPrecision(6);
}

}  // namespace attnx::ui
