#include "ui/experiments/legend_columns.h"

#include <QFontMetrics>
#include <algorithm>

#include "ui/plots/figure_layout.h"

namespace attnx::ui {

void fitLegendColumns(QCustomPlot* plot) {
  QCPLegend* legend = plot->legend;
  const QFontMetrics metrics(legend->font());
  int widest = 0, items = 0;
  for (int i = 0; i < legend->itemCount(); ++i) {
    auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i));
    if (!item) continue;
    widest = std::max(widest, metrics.horizontalAdvance(item->plottable()->name()));
    ++items;
  }
  // Icon, its padding and the gap between columns (QCPLegend's defaults: 32 px icon, 8 px gaps).
  const int column = widest + legend->iconSize().width() + legend->iconTextPadding() + 2 * 8 + 4;
  const int width = plot->width() > 0 ? plot->width() : 640;
  placeLegendBelow(plot, std::clamp((width - 12) / std::max(1, column), 1, std::max(1, items)));
}

}  // namespace attnx::ui
