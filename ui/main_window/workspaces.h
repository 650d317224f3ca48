// Workspaces: named arrangements of the window's docks for one task each (Design, Train, Analyse,
// Experiments), as IDEs have modes. Each workspace shows only its docks at sizes that suit them;
// switching saves the current arrangement (the user's own changes included) and restores the
// target's. A toolbar and the View menu switch them (Ctrl+1…), and the last one and every
// workspace's arrangement are remembered across sessions (QSettings, "workspaces/…").
#pragma once

#include <QByteArray>
#include <QKeySequence>
#include <QObject>
#include <QString>
#include <QVector>
#include <functional>

class QAction;
class QActionGroup;
class QMainWindow;
class QMenu;
class QToolBar;

namespace attnx::ui {

class Workspaces : public QObject {
  Q_OBJECT
 public:
  struct Spec {
    QString id;       // settings key, e.g. "analyse"
    QString title;    // "Analyse"
    QString toolTip;
    // Places the workspace's docks (the others are hidden before it runs) in their default layout.
    std::function<void()> arrange;
  };

  // Adds its switcher to `bar` and `menu`.
  Workspaces(QMainWindow* window, QToolBar* bar, QMenu* menu);

  // Adds a workspace; its shortcut is Ctrl+<position>.
  void add(const Spec& spec);
  // After every add. When the window is first shown (dock sizes need its geometry): records each
  // workspace's default arrangement, restores the remembered ones and the last workspace (the first
  // on a first start, or the one switchTo named before), then ready().
  void finish();
  bool isReady() const { return current_ >= 0; }

  void switchTo(const QString& id);
  QString current() const;
  QStringList ids() const;
  QAction* action(const QString& id) const;
  // Back to the current workspace's default arrangement (View → Reset layout).
  void resetCurrent();
  // Writes the arrangements and the current workspace to QSettings.
  void save() const;

 Q_SIGNALS:
  void switched(const QString& id);
  void ready();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct Entry {
    Spec spec;
    QAction* action = nullptr;
    QByteArray defaultState, state;
  };
  int indexOf(const QString& id) const;
  void apply(int index, bool saveCurrent);
  void hideAllDocks();
  void build();
  void hideStaleTabBars();

  QMainWindow* window_;
  QToolBar* bar_;
  QMenu* menu_;
  QActionGroup* group_;
  QVector<Entry> entries_;
  int current_ = -1;   // -1 until built
  QString pending_;    // switchTo before the build
};

}  // namespace attnx::ui
