// The colour gradients of attention maps, shared by the heatmaps and the overview thumbnails.
#pragma once

#include "ui/plots/qcp.h"

namespace attnx::ui {

// Sequential, dark (weight 0) to bright (weight 1), perceptually even: the usual viridis stops.
QCPColorGradient weightGradient();
// Diverging for differences: blue (student attends more) - white (equal) - red (teacher attends more).
QCPColorGradient differenceGradient();

}  // namespace attnx::ui
