#include "ui/bank_editor/mask_spec_editor.h"

#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpressionValidator>
#include <QSpinBox>
#include <limits>

#include "ui/bank_editor/paint_grid_widget.h"

namespace attnx::ui {
namespace {

QSpinBox* spin(QWidget* parent, int lo, int hi, const QString& tip) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  s->setToolTip(tip);
  s->setKeyboardTracking(false);  // one edit per finished number, not per digit typed
  return s;
}

std::vector<int64_t> parseOffsets(const QString& text) {
  std::vector<int64_t> out;
  for (const auto& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) out.push_back(part.trimmed().toLongLong());
  return out;
}

QString offsetsText(const std::vector<int64_t>& offsets) {
  QStringList parts;
  for (auto o : offsets) parts << QString::number(o);
  return parts.join(QStringLiteral(", "));
}

}  // namespace

MaskSpec MaskSpecEditor::defaultSpec(MaskFamily family) {
  switch (family) {
    case MaskFamily::Causal: return MaskSpec::causal("causal");
    case MaskFamily::Window: return MaskSpec::window("window", 32);
    case MaskFamily::DilatedWindow: return MaskSpec::dilatedWindow("dilated", 16, 2);
    case MaskFamily::Strided: return MaskSpec::strided("strided", 8);
    case MaskFamily::BlockLocal: return MaskSpec::blockLocal("block", 16);
    case MaskFamily::SummaryColumns: return MaskSpec::summaryColumns("summary", 16, 2);
    case MaskFamily::Sinks: return MaskSpec::sinks("sinks", 4);
    case MaskFamily::Offsets: return MaskSpec::offsetSet("previous-token", {0, 1});
    case MaskFamily::Random: return MaskSpec::random("random", 16, 2, 0);
    case MaskFamily::Painted: {
      const int G = 8;
      std::vector<uint8_t> grid(G * G, 0);
      for (int i = 0; i < G; ++i) grid[i * G + i] = 1;  // the diagonal blocks, to paint on from there
      // Cells of 16 tokens: the whole canvas (128 tokens) shows in the editor's preview; past it the
      // last row continues (sinks and diagonals), so the pattern also means something at n = 1024.
      return MaskSpec::painted("painted", G, grid, 16);
    }
  }
  return MaskSpec::causal("causal");
}

MaskSpecEditor::MaskSpecEditor(QWidget* parent) : QWidget(parent) {
  form_ = new QFormLayout(this);
  form_->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
  name_ = new QLineEdit(this);
  name_->setToolTip(tr("Unique name of the mask in the bank (used in run files and plots)"));
  family_ = new QComboBox(this);
  for (auto f : allFamilies()) family_->addItem(QString::fromLatin1(familyName(f)), static_cast<int>(f));
  family_->setToolTip(tr("Mask family (method.md): which (query, key) pairs the mask allows"));
  w_ = spin(this, 1, 1 << 20, tr("Window width w: keys with i − j < w (dilated: in steps of r)"));
  r_ = spin(this, 1, 1 << 20, tr("Dilation r (dilated window) or key blocks per query block (random)"));
  s_ = spin(this, 1, 1 << 20, tr("Stride s (strided) or period s (summary columns)"));
  b_ = spin(this, 1, 1 << 20, tr("Block size b in tokens (painted: the tokens of one grid cell)"));
  c_ = spin(this, 1, 1 << 20, tr("Summary columns c at the end of each period (c ≤ s)"));
  k_ = spin(this, 1, 1 << 20, tr("Number of leading sink keys k"));
  seed_ = spin(this, 0, std::numeric_limits<int>::max(), tr("Seed of the random key-block choice"));
  gridSize_ = spin(this, 1, 64,
                   tr("Grid size G of the painted pattern: G × G cells of b tokens from position 0; past "
                      "the canvas its last row continues (first cell as sinks, the rest along its diagonals)"));
  offsets_ = new QLineEdit(this);
  offsets_->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("^\\s*\\d+(\\s*,\\s*\\d+)*\\s*,?\\s*$")), offsets_));
  offsets_->setToolTip(tr("Offsets i − j that are attended, comma-separated (0: the token itself, 1: the previous one)"));
  paint_ = new PaintGridWidget(this);
  problem_ = new QLabel(this);
  problem_->setStyleSheet(QStringLiteral("color: #b00020"));
  problem_->setWordWrap(true);
  form_->addRow(tr("Name"), name_);
  form_->addRow(tr("Family"), family_);
  form_->addRow(tr("Width w"), w_);
  form_->addRow(tr("Dilation / blocks r"), r_);
  form_->addRow(tr("Stride / period s"), s_);
  form_->addRow(tr("Block size b"), b_);
  form_->addRow(tr("Columns c"), c_);
  form_->addRow(tr("Sinks k"), k_);
  form_->addRow(tr("Offsets O"), offsets_);
  form_->addRow(tr("Seed"), seed_);
  form_->addRow(tr("Grid G"), gridSize_);
  form_->addRow(paint_);
  form_->addRow(problem_);

  connect(name_, &QLineEdit::editingFinished, this, &MaskSpecEditor::onEdited);
  connect(family_, &QComboBox::activated, this, &MaskSpecEditor::onFamilyChosen);
  for (auto* s : {w_, r_, s_, b_, c_, k_, seed_, gridSize_})
    connect(s, &QSpinBox::valueChanged, this, &MaskSpecEditor::onEdited);
  connect(offsets_, &QLineEdit::editingFinished, this, &MaskSpecEditor::onEdited);
  connect(paint_, &PaintGridWidget::gridEdited, this, &MaskSpecEditor::onEdited);
  setSpec(defaultSpec(MaskFamily::Window));
}

void MaskSpecEditor::setSpec(const MaskSpec& spec) {
  loading_ = true;
  name_->setText(QString::fromStdString(spec.name));
  family_->setCurrentIndex(family_->findData(static_cast<int>(spec.family)));
  // Zero means "not used by this family": keep the box's previous value for later use.
  auto set = [](QSpinBox* box, int64_t v) { if (v > 0) box->setValue(static_cast<int>(v)); };
  set(w_, spec.w); set(r_, spec.r); set(s_, spec.s); set(b_, spec.b); set(c_, spec.c); set(k_, spec.k);
  seed_->setValue(static_cast<int>(spec.seed));
  if (spec.family == MaskFamily::Offsets) offsets_->setText(offsetsText(spec.offsets));
  if (spec.family == MaskFamily::Painted) {
    gridSize_->setValue(static_cast<int>(spec.gridSize));
    paint_->setGrid(static_cast<int>(spec.gridSize), spec.grid);
  }
  showRowsFor(spec.family);
  problem_->clear();
  loading_ = false;
}

MaskSpec MaskSpecEditor::currentSpec() const {
  const auto family = static_cast<MaskFamily>(family_->currentData().toInt());
  const std::string name = name_->text().trimmed().toStdString();
  switch (family) {
    case MaskFamily::Causal: return MaskSpec::causal(name);
    case MaskFamily::Window: return MaskSpec::window(name, w_->value());
    case MaskFamily::DilatedWindow: return MaskSpec::dilatedWindow(name, w_->value(), r_->value());
    case MaskFamily::Strided: return MaskSpec::strided(name, s_->value());
    case MaskFamily::BlockLocal: return MaskSpec::blockLocal(name, b_->value());
    case MaskFamily::SummaryColumns: return MaskSpec::summaryColumns(name, s_->value(), c_->value());
    case MaskFamily::Sinks: return MaskSpec::sinks(name, k_->value());
    case MaskFamily::Offsets: return MaskSpec::offsetSet(name, parseOffsets(offsets_->text()));
    case MaskFamily::Random: return MaskSpec::random(name, b_->value(), r_->value(), static_cast<uint64_t>(seed_->value()));
    case MaskFamily::Painted: {
      // A new grid size rescales the painted cells (nearest block), so the pattern survives.
      const int G = gridSize_->value(), old = paint_->gridSize();
      std::vector<uint8_t> grid(size_t(G) * G, 0);
      if (old > 0)
        for (int y = 0; y < G; ++y)
          for (int x = 0; x < G; ++x) grid[size_t(y) * G + x] = paint_->cells()[size_t(y * old / G) * old + x * old / G];
      return MaskSpec::painted(name, G, grid, b_->value());
    }
  }
  return MaskSpec::causal(name);
}

void MaskSpecEditor::setProblem(const QString& problem) { problem_->setText(problem); }

void MaskSpecEditor::onFamilyChosen() {
  if (loading_) return;
  const auto family = static_cast<MaskFamily>(family_->currentData().toInt());
  MaskSpec spec = defaultSpec(family);
  spec.name = name_->text().trimmed().toStdString();
  setSpec(spec);
  onEdited();
}

void MaskSpecEditor::onEdited() {
  if (loading_) return;
  const MaskSpec spec = currentSpec();
  if (spec.family == MaskFamily::Painted && paint_->gridSize() != spec.gridSize)
    paint_->setGrid(static_cast<int>(spec.gridSize), spec.grid);
  const auto problem = spec.problem();
  problem_->setText(QString::fromStdString(problem));
  if (problem.empty()) Q_EMIT specEdited(spec);
}

void MaskSpecEditor::showRowsFor(MaskFamily f) {
  using F = MaskFamily;
  form_->setRowVisible(w_, f == F::Window || f == F::DilatedWindow);
  form_->setRowVisible(r_, f == F::DilatedWindow || f == F::Random);
  form_->setRowVisible(s_, f == F::Strided || f == F::SummaryColumns);
  form_->setRowVisible(b_, f == F::BlockLocal || f == F::Random || f == F::Painted);
  form_->setRowVisible(c_, f == F::SummaryColumns);
  form_->setRowVisible(k_, f == F::Sinks);
  form_->setRowVisible(offsets_, f == F::Offsets);
  form_->setRowVisible(seed_, f == F::Random);
  form_->setRowVisible(gridSize_, f == F::Painted);
  form_->setRowVisible(paint_, f == F::Painted);
}

}  // namespace attnx::ui
