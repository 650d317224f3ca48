#include "ui/export/figure_registry.h"

#include <QRegularExpression>
#include <stdexcept>

namespace attnx::ui {

void FigureRegistry::add(const QString& id, const QString& title, const QString& what, QWidget* widget) {
  add(id, title, what, widget, {});
}

void FigureRegistry::add(const QString& id, const QString& title, const QString& what, QWidget* widget,
                         std::function<QJsonObject()> context) {
  static const QRegularExpression safe(QStringLiteral("^[a-z0-9][a-z0-9.-]*$"));
  if (!safe.match(id).hasMatch())
    throw std::invalid_argument("figure id \"" + id.toStdString() + "\" must be lower-case letters, digits, '-' or '.'");
  for (auto& e : entries_)
    if (e.id == id) {
      e = {id, title, what, widget, context};
      Q_EMIT changed();
      return;
    }
  entries_.push_back({id, title, what, widget, std::move(context)});
  Q_EMIT changed();
}

QVector<FigureEntry> FigureRegistry::entries() const {
  QVector<FigureEntry> live;
  for (const auto& e : entries_)
    if (e.widget) live.push_back(e);
  return live;
}

const FigureEntry* FigureRegistry::find(const QString& id) const {
  for (const auto& e : entries_)
    if (e.id == id && e.widget) return &e;
  return nullptr;
}

}  // namespace attnx::ui
