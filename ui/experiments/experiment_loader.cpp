#include "ui/experiments/experiment_loader.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QObject>
#include <optional>
#include <stdexcept>

#include "core/eval/run_artifacts.h"
#include "core/study/study_results.h"
#include "core/train/distill_config.h"
#include "ui/experiments/csv_table.h"
#include "ui/experiments/run_curves.h"

namespace attnx::ui {
namespace {

using json = nlohmann::ordered_json;

QString readText(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    throw std::runtime_error(path.toStdString() + ": cannot open (" + f.errorString().toStdString() + ")");
  return QString::fromUtf8(f.readAll());
}

std::optional<DistillConfig> readRunConfig(const QString& runDir, QStringList& warnings) {
  const QString path = QDir(runDir).filePath(QStringLiteral("run.json"));
  try {
    return DistillConfig::fromJsonText(readText(path).toStdString(), path.toStdString());
  } catch (const std::exception& e) {
    warnings << QString::fromStdString(e.what());
    return std::nullopt;
  }
}

// λ₁ and combine of the rows of one run, read once per run folder.
class RunConfigCache {
 public:
  explicit RunConfigCache(QStringList& warnings) : warnings_(warnings) {}
  const std::optional<DistillConfig>& get(const QString& dir) {
    auto it = cache_.find(dir);
    if (it == cache_.end()) it = cache_.insert(dir, readRunConfig(dir, warnings_));
    return it.value();
  }

 private:
  QStringList& warnings_;
  QHash<QString, std::optional<DistillConfig>> cache_;
};

void fillFromRun(ExperimentRow& row, RunConfigCache& configs) {
  if (row.runFolder.isEmpty()) return;
  row.runName = QFileInfo(row.runFolder).fileName();
  if (!row.combine.isEmpty() && !qIsNaN(row.lambdaL1)) return;
  if (!QFileInfo::exists(QDir(row.runFolder).filePath(QStringLiteral("run.json")))) return;
  if (const auto& c = configs.get(row.runFolder)) {
    if (row.combine.isEmpty()) row.combine = QString::fromStdString(c->combine);
    if (qIsNaN(row.lambdaL1)) row.lambdaL1 = c->lambdaL1;
  }
}

QString runPath(const QString& studyDir, const QString& relative) {
  return relative.isEmpty() ? QString() : QDir::cleanPath(QDir(studyDir).absoluteFilePath(relative));
}

// ---- study.json ----

double number(const json& e, const char* key) {
  const auto it = e.find(key);
  return it != e.end() && it->is_number() ? it->get<double>() : qQNaN();
}

QString text(const json& e, const char* key) {
  const auto it = e.find(key);
  return it != e.end() && it->is_string() ? QString::fromStdString(it->get<std::string>()) : QString();
}

QVector<ExperimentRow> rowsFromStudyJson(const QString& dir) {
  const auto results = StudyResults::read(dir.toStdString());  // throws naming study.json
  QVector<ExperimentRow> rows;
  for (const auto& e : results.doc()["plans"]) {
    ExperimentRow r;
    r.id = text(e, "id");
    r.kind = text(e, "kind");
    r.family = text(e, "family");
    r.variant = text(e, "variant");
    r.seed = number(e, "seed");
    r.n = number(e, "n");
    r.density = number(e, "density");
    r.klPerToken = number(e, "kl_per_token");
    r.perplexity = number(e, "student_perplexity");
    r.top1 = number(e, "top1_agreement");
    r.modelMs = number(e, "model_ms");
    r.runFolder = runPath(dir, text(e, "run"));
    if (const auto c = e.find("config"); c != e.end() && c->is_object()) {
      r.combine = text(*c, "combine");
      r.lambdaL1 = number(*c, "lambda_l1");
    }
    r.klSource = QObject::tr("study.json: KL(teacher ‖ student) per token on the study's held-out text");
    rows << r;
  }
  return rows;
}

// ---- study.csv ----

QVector<ExperimentRow> rowsFromStudyCsv(const QString& dir) {
  const QString path = QDir(dir).filePath(QStringLiteral("study.csv"));
  const CsvTable table = parseCsv(readText(path), path);
  for (const char* required : {"id", "kind", "density", "kl_per_token"})
    if (table.column(QLatin1String(required)) < 0)
      throw std::runtime_error(path.toStdString() + ": line 1: no column \"" + required +
                               "\" (not a study.csv written by attnx-cli study)");
  QVector<ExperimentRow> rows;
  for (int i = 0; i < table.rows.size(); ++i) {
    const QStringList& cells = table.rows[i];
    auto cell = [&](const char* name) {
      const int c = table.column(QLatin1String(name));
      return c < 0 ? QString() : cells[c];
    };
    auto num = [&](const char* name) {
      const QString s = cell(name);
      if (s.isEmpty()) return qQNaN();
      bool ok = false;
      const double v = s.toDouble(&ok);
      if (!ok)
        throw std::runtime_error(QStringLiteral("%1: line %2: column \"%3\" holds \"%4\", not a number")
                                     .arg(path).arg(i + 2).arg(QLatin1String(name), s).toStdString());
      return v;
    };
    ExperimentRow r;
    r.id = cell("id");
    r.kind = cell("kind");
    r.family = cell("family");
    r.variant = cell("variant");
    r.seed = num("seed");
    r.n = num("n");
    r.density = num("density");
    r.klPerToken = num("kl_per_token");
    r.perplexity = num("student_perplexity");
    r.top1 = num("top1_agreement");
    r.modelMs = num("model_ms");
    r.runFolder = runPath(dir, cell("run"));
    r.klSource = QObject::tr("study.csv: KL(teacher ‖ student) per token on the study's held-out text");
    rows << r;
  }
  return rows;
}

void readStudy(ExperimentSet& set) {
  const QDir dir(set.dir);
  const bool hasJson = dir.exists(QStringLiteral("study.json")), hasCsv = dir.exists(QStringLiteral("study.csv"));
  QString jsonProblem;
  if (hasJson) {
    try {
      set.rows = rowsFromStudyJson(set.dir);
      set.sourceFile = QStringLiteral("study.json");
    } catch (const std::exception& e) {
      jsonProblem = QString::fromStdString(e.what());
    }
  }
  if (!hasCsv) {
    if (!jsonProblem.isEmpty()) throw std::runtime_error(jsonProblem.toStdString());
    return;
  }
  // study.json has the runs' settings, study.csv only the measurements: the CSV is the fallback,
  // and otherwise checked against the JSON so a stale or damaged copy is reported, not trusted.
  try {
    const auto csvRows = rowsFromStudyCsv(set.dir);
    if (set.sourceFile.isEmpty()) {
      set.rows = csvRows;
      set.sourceFile = QStringLiteral("study.csv");
      if (!jsonProblem.isEmpty()) set.warnings << jsonProblem + QObject::tr(" (showing study.csv instead)");
    } else if (csvRows.size() != set.rows.size()) {
      set.warnings << QObject::tr("%1: %2 rows, study.json has %3 (showing study.json)")
                          .arg(dir.filePath(QStringLiteral("study.csv")))
                          .arg(csvRows.size())
                          .arg(set.rows.size());
    }
  } catch (const std::exception& e) {
    if (set.sourceFile.isEmpty()) {
      QString message = QString::fromStdString(e.what());
      if (!jsonProblem.isEmpty()) message = jsonProblem + QStringLiteral("; ") + message;
      throw std::runtime_error(message.toStdString());
    }
    set.warnings << QString::fromStdString(e.what()) + QObject::tr(" (showing study.json)");
  }
}

// ---- run folders ----

bool isRunFolder(const QString& dir) { return QFileInfo::exists(QDir(dir).filePath(QStringLiteral("run.json"))); }

std::optional<ExperimentRow> rowFromRun(const QString& runDir, QStringList& warnings) {
  const auto config = readRunConfig(runDir, warnings);
  if (!config) return std::nullopt;
  ExperimentRow r;
  r.runFolder = QDir(runDir).absolutePath();
  r.runName = QFileInfo(r.runFolder).fileName();
  r.id = r.runName;
  r.kind = QStringLiteral("learned");
  r.family = QFileInfo(QString::fromStdString(config->bankPath)).completeBaseName();
  r.combine = QString::fromStdString(config->combine);
  r.lambdaL1 = config->lambdaL1;
  r.seed = static_cast<double>(config->seed);
  r.variant = QStringLiteral("soft");
  try {
    const RunCurves curves = readRunCurves(r.runFolder);
    qint64 step = 0;
    r.klPerToken = curves.lastValidationKl(&step);
    if (!qIsNaN(r.klPerToken))
      r.klSource = QObject::tr("metrics.csv: validation KL per token at step %1 (the last validated step)").arg(step);
    else
      warnings << QObject::tr("%1: no validated step yet (KL left empty)").arg(QDir(r.runFolder).filePath(QStringLiteral("metrics.csv")));
  } catch (const std::exception& e) {
    warnings << QString::fromStdString(e.what());
  }
  // A pruned run (attnx-cli eval wrote plan.json) has a density: the plan's, at the run's sequence length.
  if (QFileInfo::exists(QDir(r.runFolder).filePath(QString::fromLatin1(RunArtifacts::kPlanFile)))) {
    try {
      const auto artifacts = RunArtifacts::load(r.runFolder.toStdString());
      if (artifacts.plan) {
        r.density = artifacts.plan->meanDensity(artifacts.bank, artifacts.config.seqLen);
        r.variant = QStringLiteral("plan: ") + QString::fromStdString(artifacts.plan->rule.text());
        r.n = static_cast<double>(artifacts.config.seqLen);
      }
    } catch (const std::exception& e) {
      warnings << QString::fromStdString(e.what());
    }
  }
  return r;
}

}  // namespace

ExperimentSet readExperimentFolder(const QString& path) {
  ExperimentSet set;
  const QDir dir(path);
  if (path.isEmpty() || !dir.exists())
    throw std::runtime_error(QStringLiteral("%1: no such folder").arg(path).toStdString());
  set.dir = dir.absolutePath();
  if (dir.exists(QStringLiteral("study.json")) || dir.exists(QStringLiteral("study.csv"))) {
    set.source = ExperimentSet::Source::Study;
    readStudy(set);
    RunConfigCache configs(set.warnings);
    QStringList missing;
    for (auto& row : set.rows) {
      // A study copied without its runs/ folder: nothing to open or overlay for those rows.
      if (!row.runFolder.isEmpty() && !QFileInfo(row.runFolder).isDir()) {
        if (!missing.contains(row.runFolder)) missing << row.runFolder;
        row.runFolder.clear();
      }
      fillFromRun(row, configs);
    }
    if (!missing.isEmpty())
      set.warnings << QObject::tr("%n run folder(s) the study names are missing (%1)", nullptr, static_cast<int>(missing.size()))
                          .arg(missing.join(QStringLiteral(", ")));
    return set;
  }
  if (isRunFolder(set.dir)) {
    set.source = ExperimentSet::Source::SingleRun;
    if (auto row = rowFromRun(set.dir, set.warnings)) set.rows << *row;
    else throw std::runtime_error(set.warnings.join(QStringLiteral("; ")).toStdString());
    return set;
  }
  set.source = ExperimentSet::Source::RunFolders;
  const auto subdirs = dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
  bool anyRun = false;
  for (const QString& name : subdirs) {
    const QString sub = dir.filePath(name);
    if (!isRunFolder(sub)) continue;
    anyRun = true;
    if (auto row = rowFromRun(sub, set.warnings)) set.rows << *row;
  }
  if (!anyRun)
    throw std::runtime_error(QStringLiteral("%1: holds no study (study.json / study.csv), no run.json and no run "
                                            "folders; choose a study folder, a run folder or a folder of runs")
                                 .arg(set.dir)
                                 .toStdString());
  return set;
}

}  // namespace attnx::ui
