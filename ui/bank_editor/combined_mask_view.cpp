#include "ui/bank_editor/combined_mask_view.h"

#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPixmap>
#include <QSpinBox>

#include <algorithm>
#include <cstdlib>

#include "ui/bank_editor/mask_image.h"

namespace attnx::ui {

CombinedMaskView::CombinedMaskView(QWidget* parent) : QWidget(parent) {
  auto* grid = new QGridLayout(this);
  auto* controls = new QHBoxLayout;
  auto addSpin = [&](const QString& label, int lo, int hi, int value, const QString& tip) {
    auto* l = new QLabel(label, this);
    auto* s = new QSpinBox(this);
    s->setRange(lo, hi);
    s->setValue(value);
    s->setToolTip(tip);
    l->setBuddy(s);
    controls->addWidget(l);
    controls->addWidget(s);
    connect(s, &QSpinBox::valueChanged, this, &CombinedMaskView::refresh);
    return s;
  };
  layer_ = addSpin(tr("Layer"), 0, 0, 0, tr("Layer whose coefficients combine the masks"));
  head_ = addSpin(tr("Head"), 0, 0, 0, tr("Head whose coefficients combine the masks"));
  block_ = addSpin(tr("Block"), 1, 512, 16, tr("Block size of the block-sparse layout"));
  controls->addStretch();
  grid->addLayout(controls, 0, 0, 1, 2);
  image_ = new QLabel(this);
  image_->setToolTip(tr("W = Σ α_k m_k: darker means a larger weight; white pairs are not attended"));
  layout_ = new QLabel(this);
  layout_->setToolTip(tr("Block layout: dark tiles are full (every pair attended), light ones partial, white ones skipped"));
  // The pictures are drawn to the room the view has (pictureSide), so they must not ask for room
  // themselves: a label's pixmap would otherwise set the view's minimum size and the view could
  // never shrink again (a scroll bar instead).
  for (QLabel* picture : {image_, layout_}) {
    picture->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Ignored);
    picture->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  }
  grid->addWidget(image_, 1, 0);
  grid->addWidget(layout_, 1, 1);
  summary_ = new QLabel(this);
  summary_->setWordWrap(true);
  grid->addWidget(summary_, 2, 0, 1, 3);
  grid->setColumnStretch(0, 1);
  grid->setColumnStretch(1, 1);
  grid->setRowStretch(1, 1);
  coalesce_.setSingleShot(true);
  coalesce_.setInterval(200);
  connect(&coalesce_, &QTimer::timeout, this, &CombinedMaskView::refresh);
}

void CombinedMaskView::setBank(const MaskBank& bank) {
  bank_ = bank;
  refresh();
}

void CombinedMaskView::setModelShape(int layers, int heads) {
  layers_ = qMax(1, layers);
  heads_ = qMax(1, heads);
  layer_->setMaximum(layers_ - 1);
  head_->setMaximum(heads_ - 1);
  refresh();
}

namespace {
std::vector<std::string> maskNames(const MaskBank& bank) {
  std::vector<std::string> names;
  for (const auto& m : bank.masks) names.push_back(m.name);
  return names;
}
}  // namespace

void CombinedMaskView::setCoefficients(const std::vector<float>& alpha, double uniform) {
  alpha_ = alpha;
  alphaMasks_ = maskNames(bank_);
  uniform_ = uniform;
  if (!coalesce_.isActive()) coalesce_.start();
}

bool CombinedMaskView::showsLearnedCoefficients() const {
  const size_t K = bank_.masks.size();
  return K > 0 && alpha_.size() == static_cast<size_t>(layers_) * heads_ * K && alphaMasks_ == maskNames(bank_);
}

int CombinedMaskView::pictureSide() const {
  // Two pictures side by side with their axes (about 62 px each) and spacing; below them the summary.
  const int byWidth = (width() - 2 * 62 - 24) / 2;
  const int byHeight = height() - 30 - 56 - 40 - 30;  // controls, caption and axes, the summary, spacing
  return std::clamp(std::min(byWidth, byHeight), 160, 560);
}

void CombinedMaskView::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  if (std::abs(pictureSide() - side_) > 8 && !coalesce_.isActive()) coalesce_.start();
}

void CombinedMaskView::setLength(int n) {
  n_ = qMax(2, n);
  refresh();
}

QString CombinedMaskView::summaryText() const { return summary_->text(); }

void CombinedMaskView::refresh() {
  const int K = static_cast<int>(bank_.masks.size());
  if (K == 0) {
    image_->clear();
    layout_->clear();
    summary_->setText(tr("The bank is empty: add a mask."));
    return;
  }
  std::vector<double> coefficients(K, uniform_);
  const bool trained = showsLearnedCoefficients();
  if (trained)
    for (int k = 0; k < K; ++k) coefficients[k] = alpha_[(layer_->value() * heads_ + head_->value()) * K + k];
  try {
    const auto combined = bank_.combined(coefficients, n_);
    density_ = combined.density;
    const int side = pictureSide();
    side_ = side;
    const QImage w = combinedImage(combined).scaled(side, side, Qt::IgnoreAspectRatio, Qt::FastTransformation);
    image_->setPixmap(QPixmap::fromImage(withTokenAxes(w, n_, tr("combined mask W, layer %1 head %2").arg(layer_->value()).arg(head_->value()))));
    const auto layout = blockLayoutOf(combined, block_->value());
    const QImage tiles = blockLayoutImage(layout, qMax(1, side / qMax(1, layout.blocks)));
    // The tiles cover whole blocks: the axis runs to the last block's end.
    layout_->setPixmap(QPixmap::fromImage(
        withTokenAxes(tiles, layout.blocks * block_->value(), tr("block layout, blocks of %1").arg(block_->value()))));
    QStringList terms;
    for (int k = 0; k < K; ++k)
      terms << QStringLiteral("%1·%2").arg(coefficients[k], 0, 'g', 3).arg(QString::fromStdString(bank_.masks[k].name));
    summary_->setText(tr("<b>Density %1%</b> of causal pairs at n = %2 (%3 pairs) — blocks of %4: %5 full, %6 partial, "
                         "%7 skipped<br>W = %8%9")
                          .arg(100.0 * combined.density, 0, 'f', 1)
                          .arg(n_)
                          .arg(combined.attendedPairs)
                          .arg(block_->value())
                          .arg(layout.full)
                          .arg(layout.partial)
                          .arg(layout.empty)
                          .arg(terms.join(QStringLiteral(" + ")).toHtmlEscaped())
                          .arg(trained ? QString()
                                       : alpha_.empty() ? tr(" (initial coefficients: no training yet)")
                                                        : tr(" (initial coefficients: the learned ones belong to another bank)")));
  } catch (const std::exception& e) {
    summary_->setText(QString::fromStdString(e.what()).toHtmlEscaped());
  }
}

}  // namespace attnx::ui
