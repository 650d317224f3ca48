// The Experiments view: runs side by side, as TensorBoard and W&B users compare them. Opens a
// study folder (attnx-cli study), a folder of run folders or one run folder, and shows a sortable
// table of the results, a Pareto scatter of density against KL or perplexity with the fixed
// baselines, and the curves of the selected runs overlaid (KL and |α| against step).
#pragma once

#include <QHash>
#include <QString>
#include <QWidget>

#include "ui/experiments/experiment_row.h"
#include "ui/experiments/run_curves.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSortFilterProxyModel;
class QSplitter;
class QTableView;

namespace attnx::ui {

class ExperimentTableModel;
class FigureRegistry;
class ParetoPlot;
class RunCurvesPlot;

class ExperimentsView : public QWidget {
  Q_OBJECT
 public:
  explicit ExperimentsView(QWidget* parent = nullptr);

  // Reads `dir` (study, folder of runs or one run). On failure the view keeps what it showed,
  // the status line names the file and what is wrong, and *error (when given) gets the same text.
  bool openFolder(const QString& dir, QString* error = nullptr);
  QString folder() const { return set_.dir; }
  int rowCount() const;
  QString statusText() const;
  // The run folders of the selected rows, in table order, each once.
  QStringList selectedRunFolders() const;

  ExperimentTableModel* tableModel() const { return model_; }
  QSortFilterProxyModel* sortModel() const { return proxy_; }
  QTableView* tableView() const { return table_; }
  ParetoPlot* scatterPlot() const { return scatter_; }
  RunCurvesPlot* klCurvesPlot() const { return klPlot_; }
  RunCurvesPlot* alphaCurvesPlot() const { return alphaPlot_; }

  // The Pareto scatter and the overlaid curves, for Export and "Export all figures".
  void registerFigures(FigureRegistry& registry);

 Q_SIGNALS:
  // The user asked to open a run (a click on a point, a double-click on a row): its folder, absolute.
  void openRunRequested(const QString& runFolder);

 private:
  QWidget* buildScatterPane();
  QWidget* buildCurvesPane();
  void chooseFolder();
  void onSelectionChanged();
  void onScatterClicked(int row);
  void requestRun(int row);
  void showStatus(const QString& text, bool error);
  void fitColumns();

  ExperimentSet set_;
  QHash<QString, RunCurves> curves_;     // by run folder: metrics.csv read once per opened folder
  QHash<QString, QString> curveErrors_;  // by run folder: why its curves could not be read

  ExperimentTableModel* model_;
  QSortFilterProxyModel* proxy_;
  QTableView* table_;
  ParetoPlot* scatter_;
  RunCurvesPlot* klPlot_;
  RunCurvesPlot* alphaPlot_;
  QComboBox* scatterMeasure_;
  QComboBox* scatterLength_;  // the eval length n shown, when a study has several
  QCheckBox* scatterLog_;
  QCheckBox* showTraining_;
  QCheckBox* curvesLog_;
  QComboBox* alphaMeasure_;
  QLabel* folderLabel_;
  QLabel* status_;
  QString loadStatus_;  // what opening the folder said, kept under the selection's messages
};

}  // namespace attnx::ui
