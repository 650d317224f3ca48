// Every figure the app can export, by a stable id: views register their plots here, and "Export
// all figures" (or attnx-cli figures) walks the list. Entries hold weak pointers: a figure whose
// widget is gone is skipped.
#pragma once

#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QVector>
#include <QWidget>
#include <functional>

namespace attnx::ui {

struct FigureEntry {
  QString id;       // file-name safe, e.g. "attention-teacher"
  QString title;    // for menus; index.json names the title drawn on the figure (figure_exporter.h)
  QString what;     // one line on what the figure shows, for index.json
  QPointer<QWidget> widget;  // an ExportRenderable, a QCustomPlot (vector export) or any widget (rendered)
  // What the figure shows at export time (e.g. {"prompt":..,"layer":1,"head":3}); its keys go into the
  // figure's index.json entry. Empty when the figure has no context of its own.
  std::function<QJsonObject()> context;
};

class FigureRegistry : public QObject {
  Q_OBJECT
 public:
  using QObject::QObject;
  // Replaces an entry of the same id. Throws std::invalid_argument for an id that is not file-name safe.
  void add(const QString& id, const QString& title, const QString& what, QWidget* widget);
  void add(const QString& id, const QString& title, const QString& what, QWidget* widget,
           std::function<QJsonObject()> context);
  QVector<FigureEntry> entries() const;  // live ones, in the order added
  const FigureEntry* find(const QString& id) const;

 Q_SIGNALS:
  void changed();

 private:
  QVector<FigureEntry> entries_;
};

}  // namespace attnx::ui
