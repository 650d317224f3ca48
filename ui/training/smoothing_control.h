// "smoothing [slider] 0.60": the EMA weight of a curve plot, with its value shown beside the slider
// (the Loss curves and Coefficients panels share it).
#pragma once

#include <QWidget>
#include <functional>

namespace attnx::ui {

// A row holding the label, a slider over 0.00..0.99 starting at `initial`, and the value; every
// change calls onChange with the new weight.
QWidget* makeSmoothingControl(QWidget* parent, double initial, const QString& toolTip,
                              std::function<void(double)> onChange);

}  // namespace attnx::ui
