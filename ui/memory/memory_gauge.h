// A horizontal memory gauge: the current value as a filled bar, the peak as a marker line.
#pragma once

#include <QWidget>

namespace attnx::ui {

class MemoryGauge : public QWidget {
  Q_OBJECT
 public:
  explicit MemoryGauge(const QString& name, QWidget* parent = nullptr);
  void setValues(qint64 currentBytes, qint64 peakBytes, const QString& note = {});
  void setFullScale(qint64 bytes);  // 0: twice the peak, rounded up
  qint64 currentBytes() const { return current_; }
  qint64 peakBytes() const { return peak_; }
  QSize sizeHint() const override { return QSize(320, 58); }
  QSize minimumSizeHint() const override { return QSize(200, 58); }
  static QString formatBytes(double bytes);

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  QString name_, note_;
  qint64 current_ = 0, peak_ = 0, full_ = 0;
};

}  // namespace attnx::ui
