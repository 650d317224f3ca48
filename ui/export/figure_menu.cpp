#include "ui/export/figure_menu.h"

#include <QCoreApplication>
#include <QFileDialog>
#include <QKeySequence>
#include <QMenu>
#include <QMessageBox>

#include "ui/export/figure_exporter.h"
#include "ui/export/figure_registry.h"
#include "ui/plots/qcp.h"

namespace attnx::ui {
namespace {

QString tr(const char* text) { return QCoreApplication::translate("FigureMenu", text); }

void exportOne(const FigureEntry& entry, QWidget* parent, const FigureMenuHooks& hooks) {
  const QString path = QFileDialog::getSaveFileName(parent, tr("Export %1").arg(entry.title), entry.id + QStringLiteral(".png"),
                                                    tr("PNG (*.png);;PDF (*.pdf);;SVG (*.svg);;CSV of the visible range (*.csv)"));
  if (path.isEmpty()) return;
  QString problem;
  FigureFormat format;
  if (path.endsWith(QLatin1String(".csv"), Qt::CaseInsensitive)) {
    auto* plot = qobject_cast<QCustomPlot*>(entry.widget.data());
    problem = plot ? exportVisibleCsv(plot, path) : tr("%1 has no curves to write as CSV").arg(entry.title);
  } else if (formatOfPath(path, &format)) {
    problem = exportFigure(entry.widget, path, format, defaultExportOptions(entry.widget));
  } else {
    problem = tr("%1: use .png, .pdf, .svg or .csv").arg(path);
  }
  if (!problem.isEmpty()) QMessageBox::warning(parent, tr("Export failed"), problem);
  else if (hooks.showMessage) hooks.showMessage(tr("Wrote %1").arg(path));
}

// Fills `menu` with one action per live figure when it opens.
void listFiguresOnShow(QMenu* menu, FigureRegistry* registry, const std::function<void(const FigureEntry&)>& act) {
  QObject::connect(menu, &QMenu::aboutToShow, menu, [menu, registry, act] {
    menu->clear();
    const auto entries = registry->entries();
    if (entries.isEmpty()) menu->addAction(tr("(no figures yet)"))->setEnabled(false);
    for (const auto& e : entries) {
      const QString id = e.id;
      menu->addAction(e.title, menu, [registry, id, act] {
        if (const auto* entry = registry->find(id)) act(*entry);
      });
    }
  });
}

}  // namespace

QString exportAllFiguresTo(const FigureRegistry& registry, const QString& folder, const FigureMenuHooks& hooks) {
  QStringList written;
  const QString problem = exportAllFigures(registry, folder, ExportOptions{}, hooks.context ? hooks.context() : QJsonObject{}, &written);
  if (hooks.showMessage)
    hooks.showMessage(problem.isEmpty() ? tr("Wrote %1 files to %2").arg(written.size()).arg(folder) : problem);
  return problem;
}

void addFigureMenus(QMenu* file, FigureRegistry* registry, QWidget* parent, FigureMenuHooks hooks) {
  listFiguresOnShow(file->addMenu(tr("Export &figure")), registry,
                    [parent, hooks](const FigureEntry& e) { exportOne(e, parent, hooks); });
  listFiguresOnShow(file->addMenu(tr("Cop&y figure to clipboard")), registry, [hooks](const FigureEntry& e) {
    copyFigureToClipboard(e.widget, defaultExportOptions(e.widget));
    if (hooks.showMessage) hooks.showMessage(tr("%1 copied to the clipboard").arg(e.title));
  });
  auto* all = file->addAction(tr("Export &all figures…"), parent, [registry, parent, hooks] {
    const QString dir = QFileDialog::getExistingDirectory(parent, tr("Folder for the figures"));
    if (dir.isEmpty()) return;
    const QString problem = exportAllFiguresTo(*registry, dir, hooks);
    if (!problem.isEmpty()) QMessageBox::warning(parent, tr("Export failed"), problem);
  });
  all->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
}

}  // namespace attnx::ui
