// File → Download GPT-2…: pick a model, a folder, watch the progress; cancel and resume later. On
// success it emits modelReady(folder) so the main window opens the model.
#pragma once

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace attnx::ui {

class ModelDownloader;

class DownloadDialog : public QDialog {
  Q_OBJECT
 public:
  explicit DownloadDialog(QWidget* parent = nullptr);

  // Default destination for a hub repo: <AppDataLocation>/models/<last part of the repo name>.
  static QString defaultFolderFor(const QString& repo);

  // For tests: the controls a user would use.
  QComboBox* modelBox() const { return modelBox_; }
  QLineEdit* folderEdit() const { return folderEdit_; }
  QPushButton* startButton() const { return startButton_; }
  QPushButton* cancelButton() const { return cancelButton_; }
  QLabel* statusLabel() const { return status_; }
  ModelDownloader* downloader() const { return downloader_; }

 Q_SIGNALS:
  void modelReady(const QString& folder);

 private:
  void startDownload();
  void onProgress(const QString& file, qint64 done, qint64 total, int fileIndex, int fileCount);
  void onFinished(bool ok, const QString& message);
  void setRunning(bool running);
  void reject() override;  // closing while downloading cancels first

  ModelDownloader* downloader_;
  QComboBox* modelBox_;
  QLineEdit* folderEdit_;
  QPushButton* browseButton_;
  QPushButton* startButton_;
  QPushButton* cancelButton_;
  QProgressBar* bar_;
  QLabel* status_;
};

}  // namespace attnx::ui
