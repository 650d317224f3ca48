// Legends under the axes (ui/plots/figure_layout.h placeLegendBelow) wrap into as many columns as
// the plot's width holds for its longest entry, so no entry is clipped in a narrow pane and a wide
// one does not waste rows of height.
#pragma once

#include "ui/plots/qcp.h"

namespace attnx::ui {

// Sets the legend's column count for the plot's current width; call after the legend's items or
// the plot's size change (before the replot).
void fitLegendColumns(QCustomPlot* plot);

}  // namespace attnx::ui
