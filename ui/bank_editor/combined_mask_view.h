// The combined soft mask W = Σ_k α_k m_k of the bank for one (layer, head), with the current
// coefficients (the latest training step, or the initial coefficient before training), its density
// (% of causal pairs attended) and its block layout at a chosen block size.
#pragma once

#include <QTimer>
#include <QVector>
#include <vector>
#include <QWidget>

#include "core/masks/mask_bank.h"

class QLabel;
class QSpinBox;

namespace attnx::ui {

class CombinedMaskView : public QWidget {
  Q_OBJECT
 public:
  explicit CombinedMaskView(QWidget* parent = nullptr);

  void setBank(const MaskBank& bank);
  // Model shape for the layer / head selectors.
  void setModelShape(int layers, int heads);
  // (L, H, K) row-major; empty: every coefficient equal to `uniform`.
  void setCoefficients(const std::vector<float>& alpha, double uniform = 1.0);
  void setLength(int n);

  double density() const { return density_; }
  QString summaryText() const;

 private:
  void refresh();
  QTimer coalesce_;  // coefficients stream in at up to 20/s: redraw at most 5 times a second
  MaskBank bank_;
  std::vector<float> alpha_;
  double uniform_ = 1.0;
  int layers_ = 1, heads_ = 1;
  double density_ = 0;
  QSpinBox *layer_ = nullptr, *head_ = nullptr, *n_ = nullptr, *block_ = nullptr;
  QLabel *image_ = nullptr, *layout_ = nullptr, *summary_ = nullptr;
};

}  // namespace attnx::ui
