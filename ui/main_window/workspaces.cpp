#include "ui/main_window/workspaces.h"

#include <QAction>
#include <QActionGroup>
#include <QDockWidget>
#include <QEvent>
#include <QMainWindow>
#include <QMenu>
#include <QSettings>
#include <QTabBar>
#include <QTimer>
#include <QToolBar>

namespace attnx::ui {

namespace {
// A saved arrangement carries this version: bump it when the docks change, so an old arrangement
// (which would hide a new dock) is replaced by the new default.
constexpr int kStateVersion = 2;
QString stateKey(const QString& id) { return QStringLiteral("workspaces/%1/state").arg(id); }
}  // namespace

Workspaces::Workspaces(QMainWindow* window, QToolBar* bar, QMenu* menu)
    : QObject(window), window_(window), bar_(bar), menu_(menu), group_(new QActionGroup(this)) {
  group_->setExclusive(true);
}

void Workspaces::add(const Spec& spec) {
  Entry e;
  e.spec = spec;
  e.action = new QAction(spec.title, this);
  e.action->setCheckable(true);
  e.action->setObjectName(QStringLiteral("workspace-") + spec.id);
  const int position = static_cast<int>(entries_.size()) + 1;
  e.action->setShortcut(QKeySequence(static_cast<int>(Qt::CTRL) | (Qt::Key_0 + position)));
  e.action->setToolTip(QStringLiteral("%1 (%2)").arg(spec.toolTip, e.action->shortcut().toString(QKeySequence::NativeText)));
  group_->addAction(e.action);
  bar_->addAction(e.action);
  menu_->addAction(e.action);
  const QString id = spec.id;
  connect(e.action, &QAction::triggered, this, [this, id] { switchTo(id); });
  entries_.push_back(e);
}

void Workspaces::hideAllDocks() {
  for (QDockWidget* dock : window_->findChildren<QDockWidget*>())
    if (dock->parentWidget() == window_) dock->hide();
}

void Workspaces::finish() {
  // Dock sizes (resizeDocks) only take once the window has its geometry: the default arrangements
  // are recorded when it is first shown, not here.
  if (window_->isVisible()) {
    build();
    return;
  }
  window_->installEventFilter(this);
}

bool Workspaces::eventFilter(QObject* watched, QEvent* event) {
  if (watched == window_ && event->type() == QEvent::Show && current_ < 0) {
    window_->removeEventFilter(this);
    QTimer::singleShot(0, this, [this] { build(); });  // after the first layout pass
  }
  return QObject::eventFilter(watched, event);
}

void Workspaces::build() {
  if (current_ >= 0) return;
  for (Entry& e : entries_) {
    hideAllDocks();
    e.spec.arrange();
    e.defaultState = window_->saveState(kStateVersion);
    e.state = e.defaultState;
  }
  QSettings settings;
  for (Entry& e : entries_) {
    const QByteArray saved = settings.value(stateKey(e.spec.id)).toByteArray();
    if (!saved.isEmpty()) e.state = saved;
  }
  const int last = indexOf(pending_.isEmpty() ? settings.value(QStringLiteral("workspaces/current")).toString() : pending_);
  apply(last >= 0 ? last : 0, /*saveCurrent=*/false);
  Q_EMIT ready();
}

int Workspaces::indexOf(const QString& id) const {
  for (int i = 0; i < entries_.size(); ++i)
    if (entries_[i].spec.id == id) return i;
  return -1;
}

void Workspaces::apply(int index, bool saveCurrent) {
  if (saveCurrent && current_ >= 0) entries_[current_].state = window_->saveState(kStateVersion);
  current_ = index;
  Entry& e = entries_[index];
  // A remembered arrangement from another version of the docks is dropped for the default.
  if (!window_->restoreState(e.state, kStateVersion)) {
    e.state = e.defaultState;
    window_->restoreState(e.state, kStateVersion);
  }
  hideStaleTabBars();
  e.action->setChecked(true);
  Q_EMIT switched(e.spec.id);
}

void Workspaces::hideStaleTabBars() {
  // QMainWindow keeps the tab bar of a tab group an arrangement no longer has, visible and empty of
  // shown docks: it drew a line across the window (seen after the first workspace was applied).
  // A group of fewer than two tabs needs no bar.
  for (QTabBar* bar : window_->findChildren<QTabBar*>(QString(), Qt::FindDirectChildrenOnly))
    if (bar->count() < 2) bar->hide();
}

void Workspaces::switchTo(const QString& id) {
  const int i = indexOf(id);
  if (i < 0) return;
  if (current_ < 0) {  // not built yet (the window not shown): the workspace it will open in
    pending_ = id;
    return;
  }
  if (i == current_) {
    entries_[i].action->setChecked(true);
    return;
  }
  apply(i, /*saveCurrent=*/true);
}

QString Workspaces::current() const { return current_ >= 0 ? entries_[current_].spec.id : pending_; }

QStringList Workspaces::ids() const {
  QStringList out;
  for (const Entry& e : entries_) out << e.spec.id;
  return out;
}

QAction* Workspaces::action(const QString& id) const {
  const int i = indexOf(id);
  return i >= 0 ? entries_[i].action : nullptr;
}

void Workspaces::resetCurrent() {
  if (current_ < 0) return;
  entries_[current_].state = entries_[current_].defaultState;
  window_->restoreState(entries_[current_].state, kStateVersion);
  hideStaleTabBars();
}

void Workspaces::save() const {
  if (current_ < 0) return;  // never shown: nothing arranged to remember
  QSettings settings;
  for (int i = 0; i < entries_.size(); ++i)
    settings.setValue(stateKey(entries_[i].spec.id), i == current_ ? window_->saveState(kStateVersion) : entries_[i].state);
  settings.setValue(QStringLiteral("workspaces/current"), current());
}

}  // namespace attnx::ui
