// The Memory & speed view: memory gauges (the process now, and one forward pass of the teacher and
// of the student measured on a worker), the analytic attention cost of dense attention against the
// student's plans (core/eval/attention_plan.h), and the benchmark panel.
#pragma once

#include <QThreadPool>
#include <QTimer>
#include <QWidget>
#include <memory>

#include "ui/bridge/analysis_session.h"

class QCustomPlot;
class QLabel;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace attnx::ui {

class BenchPanel;
class FigureRegistry;
class MemoryGauge;

class MemoryView : public QWidget {
  Q_OBJECT
 public:
  explicit MemoryView(QWidget* parent = nullptr);
  ~MemoryView() override;

  // Also benchmarks the session's run plan (setRunFolder with its folder).
  void setSession(std::shared_ptr<AnalysisSession> session);
  // The run whose pruned plan the benchmark measures beside the fixed plans (attnx-cli bench
  // --attention-only --run DIR, plotted as "learned:<folder name>"); "" for the fixed plans only.
  void setRunFolder(const QString& dir);
  QString runFolder() const { return runFolder_; }
  void setLength(int n);          // the n of the analytic table and the forward measurement
  void measure();                 // one teacher and one student forward on the worker
  void refreshProcessGauge();

  BenchPanel* benchPanel() const { return bench_; }
  QCustomPlot* costPlot() const { return costPlot_; }
  QTableWidget* costTable() const { return table_; }
  MemoryGauge* teacherGauge() const { return teacherGauge_; }
  MemoryGauge* studentGauge() const { return studentGauge_; }
  void registerFigures(FigureRegistry& registry);

 Q_SIGNALS:
  void measured();

 private:
  void refreshAnalytic();

  std::shared_ptr<AnalysisSession> session_;
  QString runFolder_;
  MemoryGauge *processGauge_, *teacherGauge_, *studentGauge_;
  QSpinBox* length_;
  QPushButton* measure_;
  QLabel* note_;
  QTableWidget* table_;
  QCustomPlot* costPlot_;
  BenchPanel* bench_;
  QTimer poll_;
  QThreadPool pool_;
};

}  // namespace attnx::ui
