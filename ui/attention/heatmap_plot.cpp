#include "ui/attention/heatmap_plot.h"

#include <QToolTip>
#include <algorithm>
#include <cmath>
#include <limits>

#include "ui/attention/attention_colors.h"
#include "ui/attention/heatmap_sampling.h"

namespace attnx::ui {

namespace {
// Token labels per axis at most: more overlap and become unreadable.
constexpr int kMaxLabels = 24;

// The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `minimum`: labels at round token indices.
int roundStep(int minimum) {
  for (int base = 1;; base *= 10)
    for (int m : {1, 2, 5})
      if (base * m >= minimum) return base * m;
}

// Each row divided by its largest weight (a zero row stays zero).
std::vector<float> rowScaled(const std::vector<float>& v, int n) {
  std::vector<float> out(v.size());
  for (int r = 0; r < n; ++r) {
    const float* in = v.data() + static_cast<size_t>(r) * n;
    const float m = *std::max_element(in, in + n);
    float* o = out.data() + static_cast<size_t>(r) * n;
    for (int c = 0; c < n; ++c) o[c] = m > 0 ? in[c] / m : 0.0f;
  }
  return out;
}

QString shortLabel(const QString& token) {
  QString t = token;
  t.replace(QLatin1Char(' '), QStringLiteral("\u00B7"));  // a visible space: "·the"
  return t.size() > 12 ? t.left(11) + QStringLiteral("\u2026") : t;
}
}  // namespace

HeatmapPlot::HeatmapPlot(QWidget* parent) : QCustomPlot(parent) {
  setMinimumSize(260, 240);
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  setNoAntialiasingOnDrag(true);
  plotLayout()->insertRow(0);
  title_ = new QCPTextElement(this, QString(), QFont(font().family(), 10, QFont::Bold));
  plotLayout()->addElement(0, 0, title_);
  xAxis->setLabel(QStringLiteral("key token"));
  yAxis->setLabel(QStringLiteral("query token"));
  yAxis->setRangeReversed(true);  // query 0 at the top, as attention maps are read
  xAxis->setTickLabelRotation(60);
  // Grid lines would run across the cells (and the empty upper triangle): heatmaps go without.
  xAxis->grid()->setVisible(false);
  yAxis->grid()->setVisible(false);
  map_ = new QCPColorMap(xAxis, yAxis);
  map_->setInterpolate(false);
  map_->setTightBoundary(false);
  scale_ = new QCPColorScale(this);
  plotLayout()->addElement(1, 1, scale_);
  scale_->setType(QCPAxis::atRight);
  scale_->axis()->setLabel(QStringLiteral("weight"));
  map_->setColorScale(scale_);
  map_->setGradient(weightGradient());
  auto* group = new QCPMarginGroup(this);
  axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  // How many token labels fit depends on the axis length: recount after every layout (resizes
  // included). QCustomPlot made this frame's ticks before the layout, so changed labels need one more
  // replot to show, and so does a change of the square-cell padding; never more than three in a row (a
  // label width can change the layout back and forth).
  plotLayout()->setAutoMargins(QCP::msNone);  // its margins are ours: the padding of keepSquareCells
  connect(this, &QCustomPlot::afterLayout, this, [this] {
    const bool squared = keepSquareCells();
    if ((rebuildTickLabels() || squared) && relabelReplots_ < 3) {
      ++relabelReplots_;
      replot(QCustomPlot::rpQueuedReplot);
    } else {
      relabelReplots_ = 0;
    }
  });
  connect(xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { onRangeChanged(); });
  connect(yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { onRangeChanged(); });
  clearMatrix(tr("No attention map yet"));
}

void HeatmapPlot::setTitle(const QString& title) {
  title_->setText(title);
  replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPlot::clearMatrix(const QString& message) {
  values_.reset();
  tokens_.clear();
  n_ = 0;
  map_->data()->clear();
  // An empty map still shows a weight scale: 0 to 1, the range attention weights live in, rather
  // than QCustomPlot's arbitrary default.
  maxAbs_ = 1;
  signed_ = false;
  map_->setGradient(weightGradient());
  map_->setDataRange(QCPRange(0, 1));
  scale_->axis()->setLabel(tr("weight"));
  title_->setText(message);
  replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPlot::setMatrix(std::shared_ptr<const std::vector<float>> values, int n, const QStringList& tokens, bool isSigned) {
  values_ = std::move(values);
  rowScaled_.reset();
  n_ = n;
  tokens_ = tokens;
  signed_ = isSigned;
  maxAbs_ = 0;
  for (float v : *values_) maxAbs_ = std::max(maxAbs_, std::fabs(v));
  if (maxAbs_ <= 0) maxAbs_ = 1;
  map_->setGradient(signed_ ? differenceGradient() : weightGradient());
  scale_->axis()->setLabel(signed_ ? tr("teacher \u2212 student") : tr("weight"));
  settingRange_ = true;
  xAxis->setRange(-0.5, n - 0.5);
  yAxis->setRange(-0.5, n - 0.5);
  settingRange_ = false;
  setScale(scale_type_);  // sets the data range and pools the cells
  rebuildTickLabels();
  replot();
}

void HeatmapPlot::setScale(HeatmapScale scale) {
  scale_type_ = scale;
  const HeatmapScale used = signed_ ? HeatmapScale::Linear : scale_type_;  // a signed difference stays linear
  scale_->setDataScaleType(used == HeatmapScale::Log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (used == HeatmapScale::Log) {
    scale_->axis()->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    map_->setDataRange(QCPRange(kLogFloor, std::max<double>(maxAbs_, kLogFloor * 10)));
  } else {
    scale_->axis()->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    map_->setDataRange(signed_ ? QCPRange(-maxAbs_, maxAbs_) : used == HeatmapScale::RowMax ? QCPRange(0, 1) : QCPRange(0, maxAbs_));
  }
  if (!signed_)
    scale_->axis()->setLabel(used == HeatmapScale::RowMax ? tr("weight \u00F7 its row's max") : tr("weight"));
  if (used == HeatmapScale::RowMax && values_ && !rowScaled_)
    rowScaled_ = std::make_shared<const std::vector<float>>(rowScaled(*values_, n_));
  if (values_) rebuildCells();
  replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPlot::setVisibleRange(const QCPRange& keys, const QCPRange& queries) {
  settingRange_ = true;
  xAxis->setRange(keys);
  yAxis->setRange(queries);
  clampRanges();
  settingRange_ = false;
  rebuildCells();
  rebuildTickLabels();
  replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapPlot::clampRanges() {
  if (n_ <= 0) return;
  const QCPRange full(-0.5, n_ - 0.5);
  for (QCPAxis* axis : {xAxis, yAxis}) {
    QCPRange r = axis->range();
    if (r.size() > full.size()) r = full;
    if (r.lower < full.lower) r = QCPRange(full.lower, full.lower + r.size());
    if (r.upper > full.upper) r = QCPRange(full.upper - r.size(), full.upper);
    if (r.size() < 1.0) r = QCPRange(r.center() - 0.5, r.center() + 0.5);  // never less than one cell
    axis->setRange(r);
  }
}

void HeatmapPlot::onRangeChanged() {
  if (settingRange_ || !values_) return;
  settingRange_ = true;
  clampRanges();
  settingRange_ = false;
  rebuildCells();
  rebuildTickLabels();
  Q_EMIT visibleRangeChanged(xAxis->range(), yAxis->range());
}

void HeatmapPlot::rebuildCells() {
  if (!values_ || n_ <= 0) return;
  // The whole cells overlapping the visible range.
  const int c0 = std::clamp(static_cast<int>(std::floor(xAxis->range().lower + 0.5)), 0, n_ - 1);
  const int c1 = std::clamp(static_cast<int>(std::ceil(xAxis->range().upper + 0.5)), c0 + 1, n_);
  const int r0 = std::clamp(static_cast<int>(std::floor(yAxis->range().lower + 0.5)), 0, n_ - 1);
  const int r1 = std::clamp(static_cast<int>(std::ceil(yAxis->range().upper + 0.5)), r0 + 1, n_);
  const int outCols = std::min(c1 - c0, kMaxCellsPerAxis), outRows = std::min(r1 - r0, kMaxCellsPerAxis);
  const bool rowMax = scale_type_ == HeatmapScale::RowMax && !signed_ && rowScaled_;
  const auto cells = poolExtreme((rowMax ? rowScaled_ : values_)->data(), n_, r0, r1, c0, c1, outRows, outCols);
  const bool useLog = scale_type_ == HeatmapScale::Log && !signed_;
  // Cell b of an axis covers source indices [begin + b*w, begin + (b+1)*w) with w = span / cells: its
  // centre in token coordinates is begin - 0.5 + (b + 0.5) * w.
  const double wc = double(c1 - c0) / outCols, wr = double(r1 - r0) / outRows;
  auto* data = new QCPColorMapData(outCols, outRows,
                                   QCPRange(c0 - 0.5 + 0.5 * wc, c0 - 0.5 + (outCols - 0.5) * wc),
                                   QCPRange(r0 - 0.5 + 0.5 * wr, r0 - 0.5 + (outRows - 0.5) * wr));
  for (int r = 0; r < outRows; ++r)
    for (int c = 0; c < outCols; ++c) {
      double v = cells[static_cast<size_t>(r) * outCols + c];
      if (useLog) v = std::max(v, kLogFloor);
      data->setCell(c, r, v);
    }
  // Above the diagonal nothing is attended: leave those cells transparent rather than dark.
  if (!signed_) {
    for (int r = 0; r < outRows; ++r)
      for (int c = 0; c < outCols; ++c) {
        const int firstKeyOfCell = c0 + static_cast<int>(static_cast<long long>(c) * (c1 - c0) / outCols);
        const int lastQueryOfCell = r0 + static_cast<int>(static_cast<long long>(r + 1) * (r1 - r0) / outRows) - 1;
        if (firstKeyOfCell > lastQueryOfCell) data->setAlpha(c, r, 0);
      }
  }
  map_->setData(data, /*copy=*/false);
}

void HeatmapPlot::setSquareCells(bool square) {
  if (square == square_) return;
  square_ = square;
  replot();  // its layout pass pads (or unpads) the map
}

bool HeatmapPlot::keepSquareCells() {
  // The data area the layout would give without padding (the plot layout's margins are only ever
  // this padding), and the width/height it should have.
  const QRect area = axisRect()->rect();
  const QMargins current = plotLayout()->margins();
  const int w = area.width() + current.left() + current.right();
  const int h = area.height() + current.top() + current.bottom();
  if (w <= 0 || h <= 0) return false;
  QMargins pad;  // none when the map fills the widget
  if (square_) {
    const double aspect = xAxis->range().size() / std::max(1e-9, yAxis->range().size());
    if (w > h * aspect) {  // too wide: pad left and right
      const int extra = static_cast<int>(std::lround(w - h * aspect));
      pad = QMargins(extra / 2, 0, extra - extra / 2, 0);
    } else {               // too tall: pad top and bottom
      const int extra = static_cast<int>(std::lround(h - w / aspect));
      pad = QMargins(0, extra / 2, 0, extra - extra / 2);
    }
  }
  if (pad == current) return false;
  plotLayout()->setMargins(pad);
  return true;
}

bool HeatmapPlot::rebuildTickLabels() {
  if (n_ <= 0) return false;
  // One step for both axes, from the shorter one: at most one label per 18 px (rotated key labels
  // are one text line high), never more than kMaxLabels, at round token indices (…, 10, 20, 50, …),
  // so panels of one size label the same tokens.
  int step = 1;
  for (QCPAxis* axis : {xAxis, yAxis}) {
    const int visible = std::max(1, static_cast<int>(std::floor(axis->range().upper)) - static_cast<int>(std::ceil(axis->range().lower)) + 1);
    const int pixels = std::max(1, std::min(axisRect()->width(), axisRect()->height()));
    const int maxLabels = std::clamp(pixels / 18, 2, kMaxLabels);
    step = std::max(step, roundStep((visible + maxLabels - 1) / maxLabels));
  }
  QList<int> signature;
  for (QCPAxis* axis : {xAxis, yAxis}) {
    const int first = std::max(0, static_cast<int>(std::ceil(axis->range().lower)));
    const int last = std::min(n_ - 1, static_cast<int>(std::floor(axis->range().upper)));
    signature << first << last << step;
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (int i = (first + step - 1) / step * step; i <= last; i += step) {
      const QString token = i < tokens_.size() ? shortLabel(tokens_[i]) : QString();
      // Thinned labels carry their index so the reader knows which token of many it is.
      ticker->addTick(i, step > 1 ? QStringLiteral("%1 %2").arg(i).arg(token) : token);
    }
    axis->setTicker(ticker);
  }
  const bool changed = signature != labelSignature_;
  labelSignature_ = signature;
  return changed;
}

double HeatmapPlot::valueAt(int query, int key) const {
  if (!values_ || query < 0 || key < 0 || query >= n_ || key >= n_) return std::numeric_limits<double>::quiet_NaN();
  return (*values_)[static_cast<size_t>(query) * n_ + key];
}

QSize HeatmapPlot::displayedCells() const { return QSize(map_->data()->keySize(), map_->data()->valueSize()); }

void HeatmapPlot::mouseMoveEvent(QMouseEvent* event) {
  QCustomPlot::mouseMoveEvent(event);
  if (!values_ || !axisRect()->rect().contains(event->pos())) {
    QToolTip::hideText();
    return;
  }
  const int key = static_cast<int>(std::lround(xAxis->pixelToCoord(event->pos().x())));
  const int query = static_cast<int>(std::lround(yAxis->pixelToCoord(event->pos().y())));
  const double v = valueAt(query, key);
  if (std::isnan(v)) return;
  const auto label = [this](int i) { return i < tokens_.size() ? tokens_[i].toHtmlEscaped() : QString(); };
  QToolTip::showText(event->globalPosition().toPoint(),
                     tr("<b>query</b> %1 \u201C%2\u201D<br><b>key</b> %3 \u201C%4\u201D<br><b>%5</b> %6")
                         .arg(query).arg(label(query)).arg(key).arg(label(key))
                         .arg(signed_ ? tr("teacher \u2212 student") : tr("weight"))
                         .arg(v, 0, 'g', 5),
                     this);
}

}  // namespace attnx::ui
