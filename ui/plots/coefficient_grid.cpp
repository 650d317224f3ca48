#include "ui/plots/coefficient_grid.h"

#include <algorithm>

#include "ui/plots/figure_layout.h"

namespace attnx::ui {

CoefficientGrid::CoefficientGrid(QWidget* parent) : QCustomPlot(parent) {
  setMinimumSize(320, 200);
  map_ = new QCPColorMap(xAxis, yAxis);
  scale_ = new QCPColorScale(this);
  plotLayout()->addElement(0, 1, scale_);
  scale_->setType(QCPAxis::atRight);
  scale_->axis()->setLabel(tr("α"));
  map_->setColorScale(scale_);
  // White for 0 (a pruned mask) to dark blue for the largest α, like the mask pictures.
  QCPColorGradient gradient;
  gradient.setColorStopAt(0.0, QColor(255, 255, 255));
  gradient.setColorStopAt(0.35, QColor(86, 180, 233));
  gradient.setColorStopAt(1.0, QColor(10, 40, 110));
  map_->setGradient(gradient);
  map_->setInterpolate(false);
  map_->setDataRange(QCPRange(0, 1));  // until a run gives it coefficients
  auto* group = new QCPMarginGroup(this);
  axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  xAxis->setLabel(tr("head (masks side by side)"));
  yAxis->setLabel(tr("layer"));
  yAxis->setRangeReversed(true);  // layer 0 at the top, as in the model
  replotTimer_.setSingleShot(true);
  replotTimer_.setInterval(40);
  connect(&replotTimer_, &QTimer::timeout, this, [this] { replot(); });
  setToolTip(tr("Current coefficient of every layer × head × mask"));
  setPlotTitle(this, tr("Mixture coefficients α of every layer, head and mask"));
}

void CoefficientGrid::renderForExport(QPainter& painter, const QSize& size) const {
  // Drawing does not change what the grid shows; QCustomPlot's drawing API is not const.
  paintPlot(const_cast<CoefficientGrid*>(this), painter, size);
}

QSize CoefficientGrid::exportSize() const {
  const int cols = std::max(1, shape_.heads * std::max(1, shape_.masks())), rows = std::max(1, shape_.layers);
  return QSize(std::clamp(cols * 28 + 200, 640, 1800), std::clamp(rows * 28 + 160, 360, 1400));
}

QString CoefficientGrid::exportTitle() const { return plotTitle(this); }

void CoefficientGrid::setShape(const TrainingShape& shape) {
  shape_ = shape;
  alpha_.assign(static_cast<size_t>(shape.alphaCount()), 0.f);
  rebuild();
}

void CoefficientGrid::setAlpha(const std::vector<float>& alpha) {
  if (alpha.size() != static_cast<size_t>(shape_.alphaCount())) return;
  alpha_ = alpha;
  const int K = shape_.masks();
  for (int l = 0; l < shape_.layers; ++l)
    for (int h = 0; h < shape_.heads; ++h)
      for (int k = 0; k < K; ++k) map_->data()->setCell(h * K + k, l, alpha_[shape_.alphaIndex(l, h, k)]);
  const auto [lo, hi] = std::minmax_element(alpha_.begin(), alpha_.end());
  map_->setDataRange(QCPRange(std::min(0.0, double(*lo)), std::max(double(*hi), 1e-6)));
  if (!replotTimer_.isActive()) replotTimer_.start();
}

void CoefficientGrid::setLogColours(bool log) {
  map_->setDataScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (!replotTimer_.isActive()) replotTimer_.start();
}

double CoefficientGrid::cell(int layer, int head, int mask) const {
  return map_->data()->cell(head * shape_.masks() + mask, layer);
}

void CoefficientGrid::rebuild() {
  // The masks' order inside each head's group of columns: the axis names only the heads.
  setPlotTitle(this, tr("Mixture coefficients α of every layer, head and mask"),
               shape_.maskNames.isEmpty() ? QString()
                                          : tr("columns of each head, left to right: %1; white: α = 0").arg(shape_.maskNames.join(QStringLiteral(", "))));
  const int K = std::max(1, shape_.masks()), cols = std::max(1, shape_.heads * K), rows = std::max(1, shape_.layers);
  map_->data()->setSize(cols, rows);
  map_->data()->setRange(QCPRange(0, cols - 1), QCPRange(0, rows - 1));
  map_->data()->fill(0);
  xAxis->setRange(-0.5, cols - 0.5);
  yAxis->setRange(-0.5, rows - 0.5);
  // One tick per head, at the middle of its masks; one per layer.
  auto xt = QSharedPointer<QCPAxisTickerText>::create();
  for (int h = 0; h < shape_.heads; ++h) xt->addTick(h * K + (K - 1) / 2.0, QStringLiteral("H%1").arg(h));
  xAxis->setTicker(xt);
  auto yt = QSharedPointer<QCPAxisTickerText>::create();
  for (int l = 0; l < shape_.layers; ++l) yt->addTick(l, QStringLiteral("L%1").arg(l));
  yAxis->setTicker(yt);
  // Separators between heads.
  clearItems();
  for (int h = 1; h < shape_.heads; ++h) {
    auto* line = new QCPItemStraightLine(this);
    line->point1->setCoords(h * K - 0.5, 0);
    line->point2->setCoords(h * K - 0.5, 1);
    line->setPen(QPen(Qt::white, 2));
  }
  if (!replotTimer_.isActive()) replotTimer_.start();
}

}  // namespace attnx::ui
