#include "ui/completions/completions_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QVBoxLayout>

#include "ui/completions/token_text_view.h"

namespace attnx::ui {

CompletionsView::CompletionsView(QWidget* parent) : QWidget(parent) {
  pool_.setMaxThreadCount(1);
  prompt_ = new QPlainTextEdit(this);
  prompt_->setPlaceholderText(tr("Prompt for both models"));
  prompt_->setToolTip(tr("The same prompt is continued by the teacher and by the student"));
  prompt_->setMaximumHeight(60);
  samples_ = new QSpinBox(this);
  samples_->setRange(1, 16);
  samples_->setValue(3);
  samples_->setToolTip(tr("Samples per prompt: sample k uses seed + k"));
  maxTokens_ = new QSpinBox(this);
  maxTokens_->setRange(1, 1024);
  maxTokens_->setValue(32);
  maxTokens_->setToolTip(tr("New tokens per completion (fewer when the context is full)"));
  seed_ = new QSpinBox(this);
  seed_->setRange(0, 1 << 30);
  seed_->setValue(1);
  seed_->setToolTip(tr("Seed of the first sample; teacher and student share it"));
  temperature_ = new QDoubleSpinBox(this);
  temperature_->setRange(0.05, 5.0);
  temperature_->setSingleStep(0.1);
  temperature_->setValue(1.0);
  temperature_->setToolTip(tr("Sampling temperature"));
  topK_ = new QSpinBox(this);
  topK_->setRange(0, 100000);
  topK_->setValue(40);
  topK_->setToolTip(tr("Keep the k most likely tokens (0: all)"));
  topP_ = new QDoubleSpinBox(this);
  topP_->setRange(0.01, 1.0);
  topP_->setSingleStep(0.05);
  topP_->setValue(1.0);
  topP_->setToolTip(tr("Nucleus sampling mass"));
  repetition_ = new QDoubleSpinBox(this);
  repetition_->setRange(0.5, 3.0);
  repetition_->setSingleStep(0.05);
  repetition_->setValue(1.0);
  repetition_->setToolTip(tr("Repetition penalty: tokens already in the text have their logits divided by it "
                             "(1: off; 1.1-1.3 breaks the loops of greedy decoding)"));
  greedy_ = new QCheckBox(tr("Greedy"), this);
  greedy_->setToolTip(tr("Always take the most likely token: one sample, the sampling settings do not apply"));
  studentCombo_ = new QComboBox(this);
  studentCombo_->addItems({tr("Soft student"), tr("Pruned student")});
  studentCombo_->setToolTip(tr("Which student continues the prompt"));
  generate_ = new QPushButton(tr("Generate"), this);
  generate_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
  generate_->setToolTip(tr("Generate teacher and student completions (Ctrl+Return)"));
  stop_ = new QPushButton(tr("Stop"), this);
  stop_->setEnabled(false);
  stop_->setShortcut(QKeySequence(Qt::Key_Escape));
  stop_->setToolTip(tr("Stop generating (Esc)"));
  status_ = new QLabel(this);
  status_->setWordWrap(true);

  // Two rows, so the view fits a laptop's 1280 px: what runs and how long on the first, how tokens
  // are sampled on the second.
  auto* controls = new QVBoxLayout;
  auto* runRow = new QHBoxLayout;
  auto* samplingRow = new QHBoxLayout;
  auto addPair = [&](QHBoxLayout* row, const QString& label, QWidget* w) {
    row->addWidget(new QLabel(label, this));
    row->addWidget(w);
  };
  runRow->addWidget(studentCombo_);
  addPair(runRow, tr("Samples"), samples_);
  addPair(runRow, tr("Tokens"), maxTokens_);
  addPair(runRow, tr("Seed"), seed_);
  runRow->addStretch(1);
  runRow->addWidget(generate_);
  runRow->addWidget(stop_);
  samplingRow->addWidget(greedy_);
  addPair(samplingRow, tr("Temperature"), temperature_);
  addPair(samplingRow, tr("Top-k"), topK_);
  addPair(samplingRow, tr("Top-p"), topP_);
  addPair(samplingRow, tr("Repetition"), repetition_);
  samplingRow->addStretch(1);
  controls->addLayout(runRow);
  controls->addLayout(samplingRow);

  gridHost_ = new QWidget(this);
  grid_ = new QGridLayout(gridHost_);
  grid_->addWidget(new QLabel(tr("<b>GPT-2 teacher</b>"), gridHost_), 0, 1);
  grid_->addWidget(new QLabel(tr("<b>Student</b>"), gridHost_), 0, 2);
  grid_->setColumnStretch(1, 1);
  grid_->setColumnStretch(2, 1);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(gridHost_);
  scroll->setWidgetResizable(true);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(prompt_);
  layout->addLayout(controls);
  layout->addWidget(status_);
  layout->addWidget(scroll, 1);

  // Greedy decoding ignores temperature, top-k, top-p and the seed, and every sample would be the
  // same: those controls are off and one sample is generated.
  connect(greedy_, &QCheckBox::toggled, this, [this](bool greedy) {
    for (QWidget* w : std::initializer_list<QWidget*>{temperature_, topK_, topP_, seed_, samples_}) w->setEnabled(!greedy);
  });
  connect(generate_, &QPushButton::clicked, this, &CompletionsView::start);
  connect(stop_, &QPushButton::clicked, this, &CompletionsView::cancel);
  setStatus(tr("Teacher and student continue the same prompt; where their texts first split is marked in red, the "
               "rest of each text follows its own path. Hover a token for its KL and top-5."));
}

CompletionsView::~CompletionsView() {
  if (cancel_) cancel_->store(true);
  pool_.clear();
  pool_.waitForDone();
}

void CompletionsView::setSession(std::shared_ptr<AnalysisSession> session) {
  cancel();
  session_ = std::move(session);
  if (session_ && session_->isLoaded())
    studentCombo_->setItemText(1, tr("Pruned: %1").arg(session_->summary().prunedDescription));
}

void CompletionsView::setPrompt(const QString& prompt) { prompt_->setPlainText(prompt); }
void CompletionsView::setSamples(int samples) { samples_->setValue(samples); }
void CompletionsView::setMaxNewTokens(int tokens) { maxTokens_->setValue(tokens); }
void CompletionsView::setStudentKind(StudentKind kind) { studentCombo_->setCurrentIndex(kind == StudentKind::Soft ? 0 : 1); }
void CompletionsView::setSampling(const SamplingOptions& s) {
  greedy_->setChecked(s.greedy);
  temperature_->setValue(s.temperature);
  topK_->setValue(static_cast<int>(s.topK));
  topP_->setValue(s.topP);
  repetition_->setValue(s.repetitionPenalty);
  seed_->setValue(static_cast<int>(s.seed));
  maxTokens_->setValue(s.maxNewTokens);
}
QString CompletionsView::statusText() const { return status_->text(); }

void CompletionsView::setStatus(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void CompletionsView::setRunning(bool running) {
  running_ = running;
  generate_->setEnabled(!running);
  stop_->setEnabled(running);
}

const std::vector<int>& CompletionsView::tokens(int sample, bool student) const {
  const auto& r = rows_.at(static_cast<size_t>(sample));
  return student ? r.studentIds : r.teacherIds;
}

void CompletionsView::clearRows() {
  for (auto& r : rows_) {
    delete r.teacher;
    delete r.student;
    delete r.label;
  }
  rows_.clear();
}

void CompletionsView::cancel() {
  if (cancel_) cancel_->store(true);
}

void CompletionsView::start() {
  if (!session_ || !session_->isLoaded()) {
    setStatus(tr("No run is open: open a run folder made by attnx-cli distill first."), true);
    Q_EMIT failed(status_->text());
    return;
  }
  EncodedPrompt encoded;
  try {
    encoded = session_->encode(prompt_->toPlainText());
  } catch (const std::exception& e) {
    setStatus(QString::fromStdString(e.what()), true);
    Q_EMIT failed(status_->text());
    return;
  }
  cancel();
  pool_.clear();
  const int context = session_->summary().context;
  const int maxNew = maxTokens_->value();
  std::vector<int> prompt = encoded.ids;
  QString note;
  // Both the prompt and the new tokens must fit the context: keep the prompt's end, which is what
  // the next token depends on most.
  const int room = std::max(1, context - maxNew);
  if (static_cast<int>(prompt.size()) > room || encoded.truncated()) {
    if (static_cast<int>(prompt.size()) > room) prompt.erase(prompt.begin(), prompt.end() - room);
    note = tr("The prompt (%1 tokens) and %2 new tokens exceed the context of %3: using its last %4 tokens. ")
               .arg(encoded.originalTokens).arg(maxNew).arg(context).arg(prompt.size());
  }
  SamplingOptions s;
  s.greedy = greedy_->isChecked();
  s.temperature = temperature_->value();
  s.topK = topK_->value();
  s.topP = topP_->value();
  s.repetitionPenalty = repetition_->value();
  s.seed = static_cast<quint64>(seed_->value());
  s.maxNewTokens = maxNew;
  const StudentKind kind = studentCombo_->currentIndex() == 0 ? StudentKind::Soft : StudentKind::Pruned;
  const int samples = s.greedy ? 1 : samples_->value();

  clearRows();
  const QString promptText = session_->decode(prompt);
  for (int i = 0; i < samples; ++i) {
    Row r;
    r.seed = s.seed + static_cast<quint64>(i);
    r.label = new QLabel(s.greedy ? tr("Greedy") : tr("Sample %1\nseed %2").arg(i + 1).arg(r.seed), gridHost_);
    r.teacher = new TokenTextView(gridHost_);
    r.student = new TokenTextView(gridHost_);
    r.teacher->setPrompt(promptText);
    r.student->setPrompt(promptText);
    grid_->addWidget(r.label, i + 1, 0, Qt::AlignTop);
    grid_->addWidget(r.teacher, i + 1, 1);
    grid_->addWidget(r.student, i + 1, 2);
    rows_.push_back(r);
  }
  auto cancelFlag = std::make_shared<std::atomic<bool>>(false);
  cancel_ = cancelFlag;
  const quint64 run = ++run_;
  setRunning(true);
  setStatus(note + tr("Generating %n sample(s)\u2026", nullptr, samples));
  auto session = session_;
  pool_.start([this, session, prompt, s, kind, samples, cancelFlag, run] {
    try {
      for (int i = 0; i < samples && !cancelFlag->load(); ++i) {
        SamplingOptions si = s;
        si.seed = s.seed + static_cast<quint64>(i);
        std::vector<int> produced[2];
        for (int side = 0; side < 2 && !cancelFlag->load(); ++side) {
          const bool student = side == 1;
          produced[side] = session->generate(prompt, student ? &kind : nullptr, si, [&](int token) {
            QMetaObject::invokeMethod(this, [this, run, i, student, token] { addToken(run, i, student, token); }, Qt::QueuedConnection);
            return !cancelFlag->load();
          });
        }
        if (cancelFlag->load()) break;
        auto teacherCmp = session->compare(prompt, produced[0], kind);
        auto studentCmp = session->compare(prompt, produced[1], kind);
        QMetaObject::invokeMethod(this, [this, run, i, a = std::move(teacherCmp), b = std::move(studentCmp)]() mutable {
          finishSample(run, i, std::move(a), std::move(b));
        }, Qt::QueuedConnection);
      }
      const bool cancelled = cancelFlag->load();
      QMetaObject::invokeMethod(this, [this, run, cancelled] {
        if (run != run_) return;
        setRunning(false);
        setStatus(cancelled ? tr("Stopped.") : summaryText());
        Q_EMIT finished(cancelled);
      }, Qt::QueuedConnection);
    } catch (const std::exception& e) {
      const QString message = QString::fromStdString(e.what());
      QMetaObject::invokeMethod(this, [this, run, message] {
        if (run != run_) return;
        setRunning(false);
        setStatus(message, true);
        Q_EMIT failed(message);
      }, Qt::QueuedConnection);
    }
  });
}

void CompletionsView::addToken(quint64 run, int sample, bool student, int token) {
  if (run != run_ || sample >= static_cast<int>(rows_.size())) return;
  auto& r = rows_[static_cast<size_t>(sample)];
  (student ? r.studentIds : r.teacherIds).push_back(token);
  refreshRow(sample);
  Q_EMIT tokenAdded(sample, student);
}

void CompletionsView::refreshRow(int sample) {
  auto& r = rows_[static_cast<size_t>(sample)];
  auto labels = [this](const std::vector<int>& ids) {
    QStringList l;
    for (int id : ids) l << session_->tokenLabel(id);
    return l;
  };
  // The two texts agree up to their first differing token; from there on each follows its own path,
  // so later positions are not compared one by one (that would mark nearly everything).
  const size_t common = std::min(r.teacherIds.size(), r.studentIds.size());
  r.split = -1;
  for (size_t i = 0; i < common && r.split < 0; ++i)
    if (r.teacherIds[i] != r.studentIds[i]) r.split = static_cast<int>(i);
  r.teacher->setTokens(labels(r.teacherIds), r.split);
  r.student->setTokens(labels(r.studentIds), r.split);
}

QString CompletionsView::summaryText() const {
  QStringList agree;
  double teacherKl = 0, studentKl = 0;
  int teacherTokens = 0, studentTokens = 0;
  for (const auto& r : rows_) {
    agree << (r.split < 0 ? tr("all %1").arg(std::min(r.teacherIds.size(), r.studentIds.size())) : QString::number(r.split));
    teacherKl += r.teacherKlSum;
    studentKl += r.studentKlSum;
    teacherTokens += static_cast<int>(r.teacherIds.size());
    studentTokens += static_cast<int>(r.studentIds.size());
  }
  return tr("Done: teacher and student agree on the first %1 token(s) (per sample); mean KL(teacher \u2016 student) "
            "per token %2 nats along the teacher's text, %3 along the student's. Hover a token for its KL and top-5.")
      .arg(agree.join(QStringLiteral(", ")))
      .arg(teacherTokens ? teacherKl / teacherTokens : 0.0, 0, 'f', 3)
      .arg(studentTokens ? studentKl / studentTokens : 0.0, 0, 'f', 3);
}

void CompletionsView::finishSample(quint64 run, int sample, std::vector<TokenComparison> teacherCmp,
                                   std::vector<TokenComparison> studentCmp) {
  if (run != run_ || sample >= static_cast<int>(rows_.size())) return;
  auto& r = rows_[static_cast<size_t>(sample)];
  refreshRow(sample);
  r.teacherKlSum = r.studentKlSum = 0;
  for (const auto& c : teacherCmp) r.teacherKlSum += c.kl;
  for (const auto& c : studentCmp) r.studentKlSum += c.kl;
  const int n = static_cast<int>(std::min(r.teacherIds.size(), r.studentIds.size()));
  r.label->setText(tr("Sample %1\nseed %2\n%3").arg(sample + 1).arg(r.seed)
                       .arg(r.split < 0 ? tr("same %1 tokens").arg(n) : tr("split at token %1").arg(r.split)));
  r.teacher->setComparisons(std::move(teacherCmp));
  r.student->setComparisons(std::move(studentCmp));
  Q_EMIT sampleFinished(sample);
}

}  // namespace attnx::ui
