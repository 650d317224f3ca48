// Colours and markers of series: the coefficient curves (one colour per mask), the Experiments
// plots (one colour per run in the overlaid curves, one colour and marker per series in the Pareto
// scatter), so a family keeps its look across figures and in print (markers differ as well as
// colours, for colour-blind readers).
#pragma once

#include <QColor>

#include "ui/plots/qcp.h"

namespace attnx::ui {

// Okabe–Ito first, then darker tones; cycles past the end.
QColor seriesColor(int i);
// Circle, square, triangle, diamond, ...; cycles past the end.
QCPScatterStyle::ScatterShape seriesShape(int i);

}  // namespace attnx::ui
