// The combined soft mask W = Σ_k α_k m_k of the bank for one (layer, head), with the current
// coefficients (the latest training step, or the initial coefficient before training), its density
// (% of causal pairs attended) and its block layout at a chosen block size, both with token axes.
// Coefficients belong to the bank they were learned for: a bank with other masks (File → New, a
// bank opened, a mask added) shows the initial coefficient instead of applying them by position.
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
  // (L, H, K) row-major for the bank shown now; empty: every coefficient equal to `uniform`.
  void setCoefficients(const std::vector<float>& alpha, double uniform = 1.0);
  // The sequence length drawn (the bank editor's one n, shared with the thumbnails).
  void setLength(int n);
  int length() const { return n_; }
  // True when the picture uses learned coefficients (they match the bank's masks).
  bool showsLearnedCoefficients() const;

  double density() const { return density_; }
  QString summaryText() const;

 private:
  void refresh();
  void resizeEvent(QResizeEvent* event) override;  // the two pictures grow with the room they have
  int pictureSide() const;
  QTimer coalesce_;  // coefficients stream in at up to 20/s: redraw at most 5 times a second
  MaskBank bank_;
  std::vector<float> alpha_;
  std::vector<std::string> alphaMasks_;  // the bank's mask names when alpha_ was set
  double uniform_ = 1.0;
  int layers_ = 1, heads_ = 1;
  double density_ = 0;
  QSpinBox *layer_ = nullptr, *head_ = nullptr, *block_ = nullptr;
  int n_ = 64;
  int side_ = 0;  // pixels per picture side last drawn
  QLabel *image_ = nullptr, *layout_ = nullptr, *summary_ = nullptr;
};

}  // namespace attnx::ui
