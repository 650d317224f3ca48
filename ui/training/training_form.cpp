#include "ui/training/training_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QStandardPaths>
#include <QToolButton>
#include <QVBoxLayout>
#include <limits>

namespace attnx::ui {
namespace {

QSpinBox* intBox(QWidget* p, int lo, int hi, const QString& tip) {
  auto* s = new QSpinBox(p);
  s->setRange(lo, hi);
  s->setToolTip(tip);
  return s;
}

QDoubleSpinBox* realBox(QWidget* p, double lo, double hi, int decimals, double step, const QString& tip) {
  auto* s = new QDoubleSpinBox(p);
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setToolTip(tip);
  return s;
}

QComboBox* choice(QWidget* p, const QStringList& items, const QString& tip) {
  auto* c = new QComboBox(p);
  c->addItems(items);
  c->setToolTip(tip);
  return c;
}

// A line edit with a "…" button that asks for a file or folder.
QWidget* pathRow(QWidget* parent, QLineEdit* edit, bool folderOnly, const QString& title) {
  auto* row = new QWidget(parent);
  auto* h = new QHBoxLayout(row);
  h->setContentsMargins(0, 0, 0, 0);
  h->addWidget(edit, 1);
  auto* browse = new QToolButton(row);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(title);
  h->addWidget(browse);
  QObject::connect(browse, &QToolButton::clicked, row, [row, edit, folderOnly, title] {
    const QString start = edit->text().isEmpty() ? QDir::homePath() : edit->text();
    const QString path = folderOnly ? QFileDialog::getExistingDirectory(row, title, start)
                                    : QFileDialog::getOpenFileName(row, title, start, QObject::tr("Text (*.txt);;All files (*)"));
    if (!path.isEmpty()) edit->setText(path);
  });
  return row;
}

QString dataDir() {
  const QByteArray env = qgetenv("ATTNX_DATA_DIR");
  return env.isEmpty() ? QStringLiteral(ATTNX_SOURCE_DATA) : QString::fromLocal8Bit(env);
}

}  // namespace

QString TrainingForm::defaultRunsDir() {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/runs");
}

QString TrainingForm::defaultDataPath() {
  const QString p = dataDir() + QStringLiteral("/corpus/train");
  return QFileInfo::exists(p) ? p : QString();
}

QString TrainingForm::defaultValidationPath() {
  const QString p = dataDir() + QStringLiteral("/corpus/validation");
  return QFileInfo::exists(p) ? p : QString();
}

TrainingForm::TrainingForm(QWidget* parent) : QWidget(parent) {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  auto group = [&](const QString& title) {
    auto* box = new QGroupBox(title, this);
    auto* form = new QFormLayout(box);
    form->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
    outer->addWidget(box);
    return form;
  };

  auto* inputs = group(tr("Data and run folder"));
  data_ = new QLineEdit(this);
  data_->setToolTip(tr("Training text: a .txt file or a folder of them (default: the fetched corpus, data/corpus/train)"));
  validation_ = new QLineEdit(this);
  validation_->setToolTip(tr("Held-out text for the validation KL (empty: no validation)"));
  runDir_ = new QLineEdit(this);
  runDir_->setPlaceholderText(tr("new folder under %1").arg(defaultRunsDir()));
  runDir_->setToolTip(tr("Where run.json, metrics.csv, the learned bank and the checkpoint go"));
  inputs->addRow(tr("Training text"), pathRow(this, data_, false, tr("Choose the training text")));
  inputs->addRow(tr("Validation text"), pathRow(this, validation_, false, tr("Choose the held-out text")));
  inputs->addRow(tr("Run folder"), pathRow(this, runDir_, true, tr("Choose the run folder")));
  // Data-parallel runs need one process per rank, started by a launcher: the desktop trains in one
  // process, and says where the others come from.
  auto* distributed = new QLabel(tr("Distributed runs (several processes or machines) are launched from attnx-cli "
                                    "(torchrun, Slurm); open their run folders here like any other."), this);
  distributed->setWordWrap(true);
  distributed->setToolTip(tr("attnx-cli distill with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set: see the "
                             "README, \"Several processes and machines\""));
  inputs->addRow(distributed);

  auto* student = group(tr("Student"));
  combine_ = choice(this, {QStringLiteral("soft-mask"), QStringLiteral("branch-mixture")},
                    tr("soft-mask: softmax(S + log W), W = Σ α_k m_k; branch-mixture: Σ α_k softmax over each mask's support"));
  granularity_ = choice(this, {QStringLiteral("layer-head"), QStringLiteral("layer"), QStringLiteral("model")},
                        tr("One coefficient per (layer, head, mask), per (layer, mask) or per mask for the whole model"));
  param_ = choice(this, {QStringLiteral("softplus"), QStringLiteral("sigmoid"), QStringLiteral("clamped")},
                  tr("α = softplus(θ), sigmoid(θ) (α < 1) or max(θ, 0)"));
  normalise_ = new QCheckBox(tr("normalise α over masks (branch mixture)"), this);
  normalise_->setToolTip(tr("Branch mixture only: divide α by its sum over the masks of each head"));
  init_ = realBox(this, 0.0, 100.0, 4, 0.1, tr("Initial α of every coefficient"));
  trainAll_ = new QCheckBox(tr("also train GPT-2's weights"), this);
  trainAll_->setToolTip(tr("Default: GPT-2 is frozen and only the coefficients learn"));
  student->addRow(tr("Combine"), combine_);
  student->addRow(tr("Coefficients"), granularity_);
  student->addRow(tr("Parametrisation"), param_);
  student->addRow(tr("Initial α"), init_);
  student->addRow(normalise_);
  student->addRow(trainAll_);

  auto* loss = group(tr("Loss"));
  temperature_ = realBox(this, 0.01, 100.0, 3, 0.1, tr("Distillation temperature τ: KL on softmax(z/τ), scaled by τ²"));
  lambdaL1_ = realBox(this, 0.0, 100.0, 6, 0.001, tr("λ₁: weight of the L1 sparsity penalty Σ|α|"));
  densityWeighted_ = new QCheckBox(tr("weight each mask's |α| by its density"), this);
  densityWeighted_->setToolTip(tr("Makes the optimiser prefer cheap masks"));
  lambdaHidden_ = realBox(this, 0.0, 100.0, 6, 0.01, tr("λ_h: weight of the MSE between the final hidden states"));
  loss->addRow(tr("Temperature τ"), temperature_);
  loss->addRow(tr("L1 weight λ₁"), lambdaL1_);
  loss->addRow(densityWeighted_);
  loss->addRow(tr("Hidden weight λ_h"), lambdaHidden_);

  auto* opt = group(tr("Optimisation"));
  steps_ = intBox(this, 1, 100000000, tr("Optimiser steps"));
  batch_ = intBox(this, 1, 4096, tr("Windows per step"));
  seqLen_ = intBox(this, 2, 1 << 20, tr("Tokens per window (at most the teacher's context)"));
  lr_ = realBox(this, 1e-6, 10.0, 6, 0.01, tr("Peak learning rate of AdamW"));
  weightDecay_ = realBox(this, 0.0, 10.0, 6, 0.01, tr("AdamW decoupled weight decay"));
  warmup_ = intBox(this, 0, 100000000, tr("Linear warm-up steps"));
  minLr_ = realBox(this, 0.0, 1.0, 3, 0.05, tr("The cosine schedule decays to learning rate × this"));
  gradClip_ = realBox(this, 0.0, 1000.0, 3, 0.1, tr("Maximum global gradient norm (0: no clipping)"));
  seed_ = intBox(this, 0, std::numeric_limits<int>::max(), tr("Seed of the batch sampler (and of initialisation)"));
  opt->addRow(tr("Steps"), steps_);
  opt->addRow(tr("Batch size"), batch_);
  opt->addRow(tr("Sequence length"), seqLen_);
  opt->addRow(tr("Learning rate"), lr_);
  opt->addRow(tr("Weight decay"), weightDecay_);
  opt->addRow(tr("Warm-up steps"), warmup_);
  opt->addRow(tr("Min LR ratio"), minLr_);
  opt->addRow(tr("Gradient clip"), gradClip_);
  opt->addRow(tr("Seed"), seed_);

  auto* book = group(tr("Validation and checkpoints"));
  validateEvery_ = intBox(this, 0, 100000000, tr("Validation KL every N steps (0: never)"));
  validationWindows_ = intBox(this, 1, 100000, tr("Held-out windows per validation"));
  checkpointEvery_ = intBox(this, 0, 100000000, tr("Checkpoint every N steps (0: only at the end or on stop)"));
  book->addRow(tr("Validate every"), validateEvery_);
  book->addRow(tr("Validation windows"), validationWindows_);
  book->addRow(tr("Checkpoint every"), checkpointEvery_);
  outer->addStretch();

  // A first run that shows the method: the study's distillation settings (docs/study/config.json,
  // "distill"), under which learned plans beat fixed ones, not the library's neutral defaults (λ₁ = 0
  // learns no sparsity at all). test_ui_main_window keeps the two in step.
  DistillConfig defaults;
  defaults.combine = "branch-mixture";
  defaults.lambdaL1 = 0.01;
  defaults.l1DensityWeighted = true;
  defaults.initialCoefficient = 0.15;
  defaults.dataPath = defaultDataPath().toStdString();
  defaults.validationPath = defaultValidationPath().toStdString();
  setConfig(defaults);
}

DistillConfig TrainingForm::config() const {
  DistillConfig c;
  c.dataPath = data_->text().trimmed().toStdString();
  c.validationPath = validation_->text().trimmed().toStdString();
  c.combine = combine_->currentText().toStdString();
  c.granularity = granularity_->currentText().toStdString();
  c.parametrisation = param_->currentText().toStdString();
  c.normaliseBranches = normalise_->isChecked();
  c.initialCoefficient = init_->value();
  c.trainAllWeights = trainAll_->isChecked();
  c.temperature = temperature_->value();
  c.lambdaL1 = lambdaL1_->value();
  c.l1DensityWeighted = densityWeighted_->isChecked();
  c.lambdaHidden = lambdaHidden_->value();
  c.steps = steps_->value();
  c.batchSize = batch_->value();
  c.seqLen = seqLen_->value();
  c.learningRate = lr_->value();
  c.weightDecay = weightDecay_->value();
  c.warmupSteps = warmup_->value();
  c.minLrRatio = minLr_->value();
  c.gradClip = gradClip_->value();
  c.seed = static_cast<uint64_t>(seed_->value());
  c.validateEvery = validateEvery_->value();
  c.validationWindows = validationWindows_->value();
  c.checkpointEvery = checkpointEvery_->value();
  return c;
}

void TrainingForm::setConfig(const DistillConfig& c) {
  data_->setText(QString::fromStdString(c.dataPath));
  validation_->setText(QString::fromStdString(c.validationPath));
  combine_->setCurrentText(QString::fromStdString(c.combine));
  granularity_->setCurrentText(QString::fromStdString(c.granularity));
  param_->setCurrentText(QString::fromStdString(c.parametrisation));
  normalise_->setChecked(c.normaliseBranches);
  init_->setValue(c.initialCoefficient);
  trainAll_->setChecked(c.trainAllWeights);
  temperature_->setValue(c.temperature);
  lambdaL1_->setValue(c.lambdaL1);
  densityWeighted_->setChecked(c.l1DensityWeighted);
  lambdaHidden_->setValue(c.lambdaHidden);
  steps_->setValue(static_cast<int>(c.steps));
  batch_->setValue(static_cast<int>(c.batchSize));
  seqLen_->setValue(static_cast<int>(c.seqLen));
  lr_->setValue(c.learningRate);
  weightDecay_->setValue(c.weightDecay);
  warmup_->setValue(static_cast<int>(c.warmupSteps));
  minLr_->setValue(c.minLrRatio);
  gradClip_->setValue(c.gradClip);
  seed_->setValue(static_cast<int>(c.seed));
  validateEvery_->setValue(static_cast<int>(c.validateEvery));
  validationWindows_->setValue(static_cast<int>(c.validationWindows));
  checkpointEvery_->setValue(static_cast<int>(c.checkpointEvery));
}

QString TrainingForm::runFolder() const { return runDir_->text().trimmed(); }
void TrainingForm::setRunFolder(const QString& dir) { runDir_->setText(dir); }

}  // namespace attnx::ui
