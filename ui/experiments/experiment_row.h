// One result of the Experiments view: a row of study.csv / study.json, or a plain run folder read
// from its run.json and metrics.csv. Missing numbers are NaN and shown as empty cells: the view
// never fills a gap with a made-up value.
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>
#include <QtNumeric>

namespace attnx::ui {

struct ExperimentRow {
  QString id;       // study id ("learned/windows-sinks/s0/budget-0.1@512") or the run folder's name
  QString kind;     // "learned" or "baseline"
  QString family;   // the bank (learned) or the fixed family ("window-sinks", "duo", ...)
  QString variant;  // "budget+finetune", "window 16 + 4 sinks", "soft", ...
  QString combine;  // "branch-mixture" / "soft-mask", "" when the result has no distillation
  double lambdaL1 = qQNaN();
  double seed = qQNaN();  // an integer when present
  double n = qQNaN();     // eval length of a study result
  double density = qQNaN();
  double klPerToken = qQNaN();
  double perplexity = qQNaN();
  double top1 = qQNaN();
  double modelMs = qQNaN();
  QString klSource;   // where klPerToken comes from, for the cell's tool tip
  QString runFolder;  // absolute path of the run that made it, "" for a fixed baseline without one
  QString runName;    // the run folder's name, as curves and legends call the run
};

// What a folder holds for the view: its rows, and problems that did not stop it from opening (a run
// without metrics.csv, a study.csv that disagrees with study.json), each naming its file.
struct ExperimentSet {
  enum class Source { Study, RunFolders, SingleRun };
  QString dir;  // absolute
  Source source = Source::Study;
  QString sourceFile;  // "study.json" / "study.csv" for a study, else ""
  QVector<ExperimentRow> rows;
  QStringList warnings;
};

}  // namespace attnx::ui
