// The attnx main window. For now: the loaded teacher model and File → Open model…; the mask bank
// editor, training, attention and completion views arrive as dock panels.
#pragma once

#include <QMainWindow>
#include <memory>

class QLabel;

namespace attnx::ui {

class ModelSession;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Loads a model folder (empty: the default model); errors go to a dialog unless `quiet`.
  bool openModel(const QString& folder, bool quiet = false);

 private Q_SLOTS:
  void chooseModelFolder();
  void showAbout();

 private:
  void refreshModelPanel();
  std::unique_ptr<ModelSession> session_;
  QLabel* modelInfo_ = nullptr;
};

}  // namespace attnx::ui
