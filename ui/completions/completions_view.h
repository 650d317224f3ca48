// The Completions view: one prompt, the same seed and sampling settings, the teacher's and the
// student's continuations side by side, streamed token by token from a worker thread, several
// samples per prompt (seed, seed + 1, ...). Positions where the two differ are highlighted; hover
// shows the per-token KL and both top-5 candidates.
#pragma once

#include <QThreadPool>
#include <QWidget>
#include <atomic>
#include <memory>
#include <vector>

#include "ui/bridge/analysis_session.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace attnx::ui {

class TokenTextView;

class CompletionsView : public QWidget {
  Q_OBJECT
 public:
  explicit CompletionsView(QWidget* parent = nullptr);
  ~CompletionsView() override;

  void setSession(std::shared_ptr<AnalysisSession> session);
  void setPrompt(const QString& prompt);
  void setSamples(int samples);
  void setMaxNewTokens(int tokens);
  void setSampling(const SamplingOptions& s);  // greedy, temperature, top-k, top-p, repetition, seed
  void setStudentKind(StudentKind kind);
  void start();   // generate (cancels a run in flight)
  void cancel();
  bool isRunning() const { return running_; }

  int sampleCount() const { return static_cast<int>(rows_.size()); }
  TokenTextView* teacherText(int sample) const { return rows_.at(static_cast<size_t>(sample)).teacher; }
  TokenTextView* studentText(int sample) const { return rows_.at(static_cast<size_t>(sample)).student; }
  // Token ids generated so far for a sample (teacher or student).
  const std::vector<int>& tokens(int sample, bool student) const;
  QString statusText() const;

 Q_SIGNALS:
  void tokenAdded(int sample, bool student);
  void sampleFinished(int sample);
  void finished(bool cancelled);
  void failed(const QString& message);

 private:
  struct Row {
    TokenTextView *teacher = nullptr, *student = nullptr;
    QLabel* label = nullptr;
    std::vector<int> teacherIds, studentIds;
    quint64 seed = 0;
    int split = -1;  // first position where the two texts differ; -1: none yet
    double teacherKlSum = 0, studentKlSum = 0;  // per-token KL along each text, once finished
  };
  QString summaryText() const;
  void clearRows();
  void addToken(quint64 run, int sample, bool student, int token);
  void finishSample(quint64 run, int sample, std::vector<TokenComparison> teacherCmp, std::vector<TokenComparison> studentCmp);
  void refreshRow(int sample);
  void setRunning(bool running);
  void setStatus(const QString& text, bool error = false);

  std::shared_ptr<AnalysisSession> session_;
  QPlainTextEdit* prompt_;
  QSpinBox *samples_, *maxTokens_, *seed_, *topK_;
  QDoubleSpinBox *temperature_, *topP_, *repetition_;
  QCheckBox* greedy_;
  QComboBox* studentCombo_;
  QPushButton *generate_, *stop_;
  QLabel* status_;
  QGridLayout* grid_;
  QWidget* gridHost_;
  std::vector<Row> rows_;
  QThreadPool pool_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::atomic<quint64> run_{0};
  bool running_ = false;
};

}  // namespace attnx::ui
