// The Attention view: a prompt, a layer x head overview with the per-head KL, and large heatmaps of
// one layer and head: teacher, student (soft or pruned) and their difference, side by side when
// they fit at a readable size (Auto) or one at a time, square cells and a row-max colour scale by
// default. The pruned student's rule is shown and can be changed (the --prune-* rules of
// attnx-cli). Maps are computed on a worker thread; a new prompt supersedes the one in flight
// (latest wins), so typing never queues up stale work.
#pragma once

#include <QElapsedTimer>
#include <QThreadPool>
#include <QWidget>
#include <optional>
#include <atomic>
#include <memory>
#include <vector>

#include "ui/attention/heatmap_plot.h"
#include "ui/bridge/analysis_session.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace attnx::ui {

class FigureRegistry;
class HeadGrid;

// What the worker hands the GUI: the maps and the overview thumbnails already pooled, so that the
// GUI thread only colours a few thousand cells.
struct AttentionViewData {
  std::shared_ptr<const AttentionMapSet> maps;
  // [0] teacher, [1] student, [2] difference: per head (layer-major) a side x side pooled map.
  std::vector<std::vector<float>> thumbnails[3];
  int side = 0;
};

// Which of the three large maps show.
enum class AttentionMapMode { Auto, SideBySide, Teacher, Student, Difference };

class AttentionView : public QWidget {
  Q_OBJECT
 public:
  // Auto shows as many of teacher, student, difference as fit this many pixels wide each.
  static constexpr int kAutoMapWidth = 420;

  explicit AttentionView(QWidget* parent = nullptr);
  ~AttentionView() override;

  void setSession(std::shared_ptr<AnalysisSession> session);
  std::shared_ptr<AnalysisSession> session() const { return session_; }
  void setPrompt(const QString& prompt);
  // Starts computing maps for the prompt box's text on the worker (superseding any request).
  void requestMaps();
  // The worker's job, callable on any thread: maps and thumbnails for a prompt. Returns an empty
  // result when cancelled. Throws std::invalid_argument for an empty prompt.
  static AttentionViewData prepare(const AnalysisSession& session, const QString& prompt, StudentKind student,
                                   const std::atomic<bool>* cancelled);
  // Shows prepared maps (GUI thread).
  void showData(const AttentionViewData& data);
  void selectHead(int layer, int head);
  void setLogScale(bool log);
  void setScale(HeatmapScale scale);  // all three heatmaps (the difference stays linear)
  void setSquareCells(bool square);   // all three heatmaps: square cells, or filling their panels
  void setStudentKind(StudentKind kind);
  void setMapMode(AttentionMapMode mode);
  AttentionMapMode mapMode() const;
  // The heatmaps shown now (Auto resolved for the current width).
  QList<HeatmapPlot*> visiblePlots() const;
  // The pruning rule in the form (none: the run's plan) and what the loaded session uses.
  std::optional<attnx::PruningRule> pruningRule() const;
  void setPruningRule(const std::optional<attnx::PruningRule>& rule);

  std::shared_ptr<const AttentionMapSet> maps() const { return data_.maps; }
  HeatmapPlot* teacherPlot() const { return teacherPlot_; }
  HeatmapPlot* studentPlot() const { return studentPlot_; }
  HeatmapPlot* differencePlot() const { return diffPlot_; }
  HeadGrid* overview() const { return grid_; }
  QString statusText() const;
  // Milliseconds of the last head display on the GUI thread (copy, pool, colour, replot).
  double lastDisplayMilliseconds() const { return lastDisplayMs_; }
  bool isBusy() const { return busy_; }

  void registerFigures(FigureRegistry& registry);

 Q_SIGNALS:
  void mapsShown();             // after showData
  void failed(const QString& message);
  void busyChanged(bool busy);
  // Apply pressed with a rule (none: the run's plan): the window reopens the run's students with it.
  void pruningRuleRequested(const std::optional<attnx::PruningRule>& rule);

 private:
  void applyResult(quint64 id, AttentionViewData data);
  void applyError(quint64 id, const QString& message);
  void refreshOverview();
  void updateVisiblePlots();
  void resizeEvent(QResizeEvent* event) override;
  void showRuleInForm(const RunSummary& s);
  void showRuleKind(int kind, bool startValue);  // the value box's range for rule `kind` (combo index)
  void setBusy(bool busy);
  void setStatus(const QString& text, bool error = false);

  std::shared_ptr<AnalysisSession> session_;
  AttentionViewData data_;
  QPlainTextEdit* prompt_;
  QPushButton* showButton_;
  QComboBox *studentCombo_, *scaleCombo_, *gridCombo_, *modeCombo_, *ruleCombo_;
  QDoubleSpinBox* ruleValue_;
  QPushButton* applyRule_;
  QLabel* ruleLabel_;
  QWidget* mapsArea_;
  QCheckBox* squareCheck_;
  QSpinBox *layerSpin_, *headSpin_;
  QLabel *status_, *klLabel_;
  HeadGrid* grid_;
  QWidget* gridScroll_;
  HeatmapPlot *teacherPlot_, *studentPlot_, *diffPlot_;
  QThreadPool pool_;
  std::atomic<quint64> latest_{0};
  std::shared_ptr<std::atomic<bool>> cancelCurrent_;
  double lastDisplayMs_ = 0;
  bool busy_ = false, syncing_ = false;
};

}  // namespace attnx::ui
