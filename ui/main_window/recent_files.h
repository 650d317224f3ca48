// A "recent files" submenu backed by QSettings: newest first, at most kMax, missing files dropped.
#pragma once

#include <QObject>
#include <QStringList>
#include <functional>

class QMenu;

namespace attnx::ui {

class RecentFiles : public QObject {
  Q_OBJECT
 public:
  static constexpr int kMax = 8;
  // key: the QSettings key ("recent/models"); open: called with the chosen path.
  RecentFiles(const QString& key, QMenu* menu, std::function<void(const QString&)> open, QObject* parent = nullptr);
  void add(const QString& path);
  QStringList paths() const;

 private:
  void rebuild();
  QString key_;
  QMenu* menu_;
  std::function<void(const QString&)> open_;
};

}  // namespace attnx::ui
