#include "ui/memory/memory_gauge.h"

#include <QPainter>
#include <cmath>

namespace attnx::ui {

MemoryGauge::MemoryGauge(const QString& name, QWidget* parent) : QWidget(parent), name_(name) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

QString MemoryGauge::formatBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (std::fabs(bytes) >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return QStringLiteral("%1 %2").arg(bytes, 0, 'f', u == 0 ? 0 : 1).arg(QLatin1String(units[u]));
}

void MemoryGauge::setValues(qint64 currentBytes, qint64 peakBytes, const QString& note) {
  current_ = currentBytes;
  peak_ = std::max(peakBytes, currentBytes);
  note_ = note;
  setToolTip(tr("%1: current %2, peak %3").arg(name_, formatBytes(current_), formatBytes(peak_)) +
             (note_.isEmpty() ? QString() : QStringLiteral("\n") + note_));
  update();
}

void MemoryGauge::setFullScale(qint64 bytes) {
  full_ = bytes;
  update();
}

void MemoryGauge::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QRect text(0, 0, width(), 18);
  p.drawText(text, Qt::AlignLeft | Qt::AlignVCenter, name_);
  p.drawText(text, Qt::AlignRight | Qt::AlignVCenter,
             peak_ > 0 ? tr("%1 now, peak %2").arg(formatBytes(current_), formatBytes(peak_)) : tr("not measured"));
  const QRectF bar(1, 22, width() - 2, 18);
  p.setPen(palette().color(QPalette::Mid));
  p.setBrush(palette().base());
  p.drawRoundedRect(bar, 4, 4);
  double full = full_ > 0 ? full_ : std::pow(2.0, std::ceil(std::log2(std::max<double>(peak_ * 1.25, 1))));
  if (peak_ > 0) {
    QRectF filled = bar.adjusted(1, 1, -1, -1);
    filled.setWidth(filled.width() * std::min(1.0, current_ / full));
    p.setPen(Qt::NoPen);
    p.setBrush(QColor(59, 130, 196));
    p.drawRoundedRect(filled, 3, 3);
    const double x = bar.left() + bar.width() * std::min(1.0, peak_ / full);
    p.setPen(QPen(QColor(214, 39, 40), 2));
    p.drawLine(QPointF(x, bar.top() - 2), QPointF(x, bar.bottom() + 2));
  }
  QFont small = font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() - 1.5));
  p.setFont(small);
  p.setPen(palette().color(QPalette::WindowText));
  p.drawText(QRect(0, 42, width(), 16), Qt::AlignLeft | Qt::AlignVCenter,
             note_.isEmpty() ? tr("scale %1").arg(formatBytes(full)) : note_ + tr("   (scale %1)").arg(formatBytes(full)));
}

}  // namespace attnx::ui
