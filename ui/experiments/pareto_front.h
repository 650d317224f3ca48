// The Pareto front of (cost, loss) points: those no other point beats on both, i.e. none has
// lower-or-equal cost and strictly lower loss. Here cost is density and loss KL or perplexity.
#pragma once

#include <QPointF>
#include <QVector>

namespace attnx::ui {

// Indices into `points` of the front, by increasing x (and so decreasing y). Points with a NaN
// coordinate are ignored; of equal points the first is kept.
QVector<int> paretoFront(const QVector<QPointF>& points);

}  // namespace attnx::ui
