// The Attention view: a prompt, the teacher's heatmap beside the student's (soft or pruned) and
// their difference for one layer and head, a layer x head overview with the per-head KL, linear or
// log colour scale, cells filling the panels or square. Maps are computed on a worker thread; a new
// prompt supersedes the one in flight (latest wins), so typing never queues up stale work.
#pragma once

#include <QElapsedTimer>
#include <QThreadPool>
#include <QWidget>
#include <atomic>
#include <memory>
#include <vector>

#include "ui/bridge/analysis_session.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace attnx::ui {

class FigureRegistry;
class HeadGrid;
class HeatmapPlot;

// What the worker hands the GUI: the maps and the overview thumbnails already pooled, so that the
// GUI thread only colours a few thousand cells.
struct AttentionViewData {
  std::shared_ptr<const AttentionMapSet> maps;
  // [0] teacher, [1] student, [2] difference: per head (layer-major) a side x side pooled map.
  std::vector<std::vector<float>> thumbnails[3];
  int side = 0;
};

class AttentionView : public QWidget {
  Q_OBJECT
 public:
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
  void setSquareCells(bool square);  // all three heatmaps: square cells, or filling their panels
  void setStudentKind(StudentKind kind);

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

 private:
  void applyResult(quint64 id, AttentionViewData data);
  void applyError(quint64 id, const QString& message);
  void refreshOverview();
  void setBusy(bool busy);
  void setStatus(const QString& text, bool error = false);

  std::shared_ptr<AnalysisSession> session_;
  AttentionViewData data_;
  QPlainTextEdit* prompt_;
  QPushButton* showButton_;
  QComboBox *studentCombo_, *scaleCombo_, *gridCombo_;
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
