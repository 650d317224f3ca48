#include "ui/experiments/pareto_front.h"

#include <algorithm>
#include <limits>

#include <QtNumeric>

namespace attnx::ui {

QVector<int> paretoFront(const QVector<QPointF>& points) {
  QVector<int> order;
  for (int i = 0; i < points.size(); ++i)
    if (!qIsNaN(points[i].x()) && !qIsNaN(points[i].y())) order << i;
  // By cost, then loss: walking left to right, a point is on the front when it is strictly better
  // than everything cheaper (or as cheap).
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (points[a].x() != points[b].x()) return points[a].x() < points[b].x();
    return points[a].y() < points[b].y();
  });
  QVector<int> front;
  double best = std::numeric_limits<double>::infinity();
  for (int i : order) {
    if (points[i].y() < best) {
      front << i;
      best = points[i].y();
    }
  }
  return front;
}

}  // namespace attnx::ui
