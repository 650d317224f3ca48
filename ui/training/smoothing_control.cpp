#include "ui/training/smoothing_control.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>

namespace attnx::ui {

QWidget* makeSmoothingControl(QWidget* parent, double initial, const QString& toolTip,
                              std::function<void(double)> onChange) {
  auto* box = new QWidget(parent);
  auto* row = new QHBoxLayout(box);
  row->setContentsMargins(0, 0, 0, 0);
  auto* slider = new QSlider(Qt::Horizontal, box);
  slider->setRange(0, 99);
  slider->setValue(static_cast<int>(initial * 100 + 0.5));
  slider->setMaximumWidth(120);
  slider->setToolTip(toolTip);
  auto* value = new QLabel(box);
  // Wide enough for "0.99" so the row does not jiggle while dragging.
  value->setMinimumWidth(value->fontMetrics().horizontalAdvance(QStringLiteral("0.00")) + 2);
  auto show = [value](int v) { value->setText(QString::number(v / 100.0, 'f', 2)); };
  show(slider->value());
  QObject::connect(slider, &QSlider::valueChanged, box, [show, onChange = std::move(onChange)](int v) {
    show(v);
    onChange(v / 100.0);
  });
  row->addWidget(new QLabel(QObject::tr("smoothing"), box));
  row->addWidget(slider);
  row->addWidget(value);
  return box;
}

}  // namespace attnx::ui
