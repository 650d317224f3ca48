// The Model panel: the teacher that is loaded (folder, size, shape), the device and threads, and
// how to open another one.
#pragma once

#include <QWidget>

#include "ui/bridge/model_session.h"

class QLabel;
class QPushButton;

namespace attnx::ui {

class ModelPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ModelPanel(QWidget* parent = nullptr);
  void showModel(const ModelSummary* summary);  // nullptr: none loaded
  void showLoading(const QString& folder);
  void showError(const QString& error);
  QString text() const;

 Q_SIGNALS:
  void openRequested();

 private:
  QLabel* info_ = nullptr;
  QPushButton* open_ = nullptr;
};

}  // namespace attnx::ui
