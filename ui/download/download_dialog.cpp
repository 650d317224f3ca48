#include "ui/download/download_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QStandardPaths>
#include <QVBoxLayout>

#include "ui/download/model_downloader.h"

namespace attnx::ui {

DownloadDialog::DownloadDialog(QWidget* parent)
    : QDialog(parent),
      downloader_(new ModelDownloader(this)),
      modelBox_(new QComboBox),
      folderEdit_(new QLineEdit),
      browseButton_(new QPushButton(tr("Browse…"))),
      startButton_(new QPushButton(tr("Download"))),
      cancelButton_(new QPushButton(tr("Cancel download"))),
      bar_(new QProgressBar),
      status_(new QLabel) {
  setWindowTitle(tr("Download GPT-2"));
  for (const auto& m : HubModel::known())
    modelBox_->addItem(QStringLiteral("%1 — about %2 MB").arg(m.displayName).arg(m.approxBytes / 1000000), m.repo);
  modelBox_->setToolTip(tr("The model to fetch from the Hugging Face hub (config, weights and tokenizer)"));
  folderEdit_->setToolTip(tr("Where the GPT-2 folder is written; an interrupted download resumes from here"));
  const auto syncFolder = [this] { folderEdit_->setText(defaultFolderFor(modelBox_->currentData().toString())); };
  syncFolder();
  connect(modelBox_, &QComboBox::currentIndexChanged, this, syncFolder);
  connect(browseButton_, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Download into"), folderEdit_->text());
    if (!dir.isEmpty()) folderEdit_->setText(dir);
  });

  auto* folderRow = new QHBoxLayout;
  folderRow->addWidget(folderEdit_, 1);
  folderRow->addWidget(browseButton_);
  auto* form = new QFormLayout;
  form->addRow(tr("Model"), modelBox_);
  form->addRow(tr("Folder"), folderRow);
  form->addRow(tr("From"), new QLabel(ModelDownloader::defaultEndpoint().toString()));

  auto* intro = new QLabel(
      tr("Fetches config.json, model.safetensors, vocab.json and merges.txt. Each file is checked "
         "(size, and sha256 where the hub states it) before it is put in place; a cancelled or broken "
         "download resumes where it stopped. gpt2 needs about 0.5 GB of memory on the CPU, gpt2-medium 1.4 GB."));
  intro->setWordWrap(true);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  bar_->setRange(0, 1000);
  bar_->setValue(0);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  buttons->addButton(startButton_, QDialogButtonBox::ActionRole);
  buttons->addButton(cancelButton_, QDialogButtonBox::ActionRole);
  connect(buttons, &QDialogButtonBox::rejected, this, &DownloadDialog::reject);
  connect(startButton_, &QPushButton::clicked, this, &DownloadDialog::startDownload);
  connect(cancelButton_, &QPushButton::clicked, downloader_, &ModelDownloader::cancel);
  connect(downloader_, &ModelDownloader::progress, this, &DownloadDialog::onProgress);
  connect(downloader_, &ModelDownloader::finished, this, &DownloadDialog::onFinished);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(intro);
  layout->addLayout(form);
  layout->addWidget(bar_);
  layout->addWidget(status_);
  layout->addWidget(buttons);
  setRunning(false);
  resize(560, sizeHint().height());
}

QString DownloadDialog::defaultFolderFor(const QString& repo) {
  const QString base = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
  return QDir(base).filePath(QStringLiteral("models/") + repo.section(QLatin1Char('/'), -1));
}

void DownloadDialog::startDownload() {
  const QString repo = modelBox_->currentData().toString();
  HubModel model;
  for (const auto& m : HubModel::known())
    if (m.repo == repo) model = m;
  status_->setText(tr("Connecting…"));
  setRunning(true);
  downloader_->start(ModelDownloader::defaultEndpoint(), model, folderEdit_->text());
}

void DownloadDialog::onProgress(const QString& file, qint64 done, qint64 total, int fileIndex, int fileCount) {
  const double fileFraction = total > 0 ? double(done) / double(total) : 0.0;
  bar_->setValue(int(1000.0 * (fileIndex + fileFraction) / fileCount));
  status_->setText(total > 0 ? tr("%1 (%2 of %3): %4 of %5 MB")
                                   .arg(file).arg(fileIndex + 1).arg(fileCount)
                                   .arg(double(done) / 1e6, 0, 'f', 1).arg(double(total) / 1e6, 0, 'f', 1)
                             : tr("%1 (%2 of %3): %4 MB").arg(file).arg(fileIndex + 1).arg(fileCount)
                                   .arg(double(done) / 1e6, 0, 'f', 1));
}

void DownloadDialog::onFinished(bool ok, const QString& message) {
  setRunning(false);
  if (ok) {
    bar_->setValue(bar_->maximum());
    status_->setText(tr("Done: %1").arg(folderEdit_->text()));
    Q_EMIT modelReady(folderEdit_->text());
    return;
  }
  startButton_->setText(tr("Resume"));
  status_->setText(message == tr("cancelled") ? tr("Cancelled. Resume continues where it stopped.") : message);
}

void DownloadDialog::setRunning(bool running) {
  startButton_->setEnabled(!running);
  cancelButton_->setEnabled(running);
  modelBox_->setEnabled(!running);
  folderEdit_->setEnabled(!running);
  browseButton_->setEnabled(!running);
}

void DownloadDialog::reject() {
  if (downloader_->isRunning()) downloader_->cancel();
  QDialog::reject();
}

}  // namespace attnx::ui
