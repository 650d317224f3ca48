// The figure entries of a window's File menu, shared by the main window and the views demo:
// "Export figure ▸" and "Copy figure to clipboard ▸" (rebuilt each time they open, so figures
// registered later are listed) and "Export all figures…" (Ctrl+Shift+E).
#pragma once

#include <QJsonObject>
#include <QString>
#include <functional>

class QMenu;
class QWidget;

namespace attnx::ui {

class FigureRegistry;

struct FigureMenuHooks {
  std::function<QJsonObject()> context;              // what index.json records (run, prompt, ...)
  std::function<void(const QString&)> showMessage;   // status bar line after a write
};

void addFigureMenus(QMenu* file, FigureRegistry* registry, QWidget* parent, FigureMenuHooks hooks);

// Export all figures of the registry into `folder`; shows the outcome through hooks.showMessage.
// Returns "" or the error.
QString exportAllFiguresTo(const FigureRegistry& registry, const QString& folder, const FigureMenuHooks& hooks);

}  // namespace attnx::ui
