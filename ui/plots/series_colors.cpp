#include "ui/plots/series_colors.h"

namespace attnx::ui {

QColor seriesColor(int i) {
  static const QColor palette[] = {QColor(0, 114, 178),  QColor(213, 94, 0),  QColor(0, 158, 115),
                                   QColor(204, 121, 167), QColor(230, 159, 0), QColor(86, 180, 233),
                                   QColor(90, 90, 90),    QColor(120, 60, 160), QColor(160, 120, 40)};
  constexpr int count = static_cast<int>(sizeof palette / sizeof palette[0]);
  return palette[((i % count) + count) % count];
}

QCPScatterStyle::ScatterShape seriesShape(int i) {
  static const QCPScatterStyle::ScatterShape shapes[] = {
      QCPScatterStyle::ssDisc,     QCPScatterStyle::ssSquare,   QCPScatterStyle::ssTriangle,
      QCPScatterStyle::ssDiamond,  QCPScatterStyle::ssTriangleInverted, QCPScatterStyle::ssCross,
      QCPScatterStyle::ssStar,     QCPScatterStyle::ssPlus,     QCPScatterStyle::ssCircle};
  constexpr int count = static_cast<int>(sizeof shapes / sizeof shapes[0]);
  return shapes[((i % count) + count) % count];
}

}  // namespace attnx::ui
