// The benchmark panel: runs `attnx-cli bench --attention-only --seq ... --json` as a background
// process, shows its progress (stderr lines "bench: [i/N] <plan> n=<n>"), cancels by killing it,
// and plots time and peak memory against sequence length, dense against each compiled plan.
#pragma once

#include <QProcess>
#include <QWidget>

#include "ui/memory/bench_results.h"

class QCustomPlot;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace attnx::ui {

class FigureRegistry;

class BenchPanel : public QWidget {
  Q_OBJECT
 public:
  explicit BenchPanel(QWidget* parent = nullptr);
  ~BenchPanel() override;

  // The attnx-cli to run (default: next to this executable) and arguments added after the fixed
  // ones (e.g. a plan or run to benchmark).
  void setProgram(const QString& program);
  void setExtraArguments(const QStringList& args);
  void setSequenceLengths(const QString& commaSeparated);
  QStringList arguments() const;  // what start() passes

  void start();
  void cancel();
  bool isRunning() const { return process_.state() != QProcess::NotRunning; }

  // Plots a report (also what start() does with the process's output).
  void showReport(const BenchReport& report);
  const BenchReport& report() const { return report_; }
  QCustomPlot* timePlot() const { return timePlot_; }
  QCustomPlot* memoryPlot() const { return memoryPlot_; }
  QString statusText() const;
  int progressValue() const;
  void registerFigures(FigureRegistry& registry);

 Q_SIGNALS:
  void progress(int index, int total);
  void finished(bool ok);

 private:
  void readStderr();
  void onFinished(int exitCode, QProcess::ExitStatus status);
  void setStatus(const QString& text, bool error = false);

  QString program_;
  QStringList extra_;
  QLineEdit* seq_;
  QPushButton *run_, *cancel_;
  QProgressBar* bar_;
  QLabel* status_;
  QCustomPlot *timePlot_, *memoryPlot_;
  QProcess process_;
  QByteArray stdout_, stderrTail_;
  QString stderrBuffer_;
  BenchReport report_;
  bool cancelled_ = false;
};

}  // namespace attnx::ui
