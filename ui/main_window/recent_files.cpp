#include "ui/main_window/recent_files.h"

#include <QDir>
#include <QFileInfo>
#include <QMenu>
#include <QSettings>

namespace attnx::ui {

RecentFiles::RecentFiles(const QString& key, QMenu* menu, std::function<void(const QString&)> open, QObject* parent)
    : QObject(parent), key_(key), menu_(menu), open_(std::move(open)) {
  connect(menu_, &QMenu::aboutToShow, this, &RecentFiles::rebuild);
  rebuild();
}

QStringList RecentFiles::paths() const {
  QStringList out;
  for (const auto& p : QSettings().value(key_).toStringList())
    if (QFileInfo::exists(p)) out << p;
  return out;
}

void RecentFiles::add(const QString& path) {
  const QString abs = QFileInfo(path).absoluteFilePath();
  auto list = paths();
  list.removeAll(abs);
  list.prepend(abs);
  while (list.size() > kMax) list.removeLast();
  QSettings().setValue(key_, list);
  rebuild();
}

void RecentFiles::rebuild() {
  menu_->clear();
  const auto list = paths();
  for (int i = 0; i < list.size(); ++i) {
    const QString path = list[i];
    auto* a = menu_->addAction(QStringLiteral("&%1 %2").arg(i + 1).arg(QDir::toNativeSeparators(path)));
    connect(a, &QAction::triggered, this, [this, path] { open_(path); });
  }
  menu_->setEnabled(!list.isEmpty());
}

}  // namespace attnx::ui
