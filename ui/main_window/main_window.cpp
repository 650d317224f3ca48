#include "ui/main_window/main_window.h"

#include <QAction>
#include <QApplication>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>
#include <QVBoxLayout>

#include "ui/bridge/model_session.h"

namespace attnx::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), session_(std::make_unique<ModelSession>()) {
  setWindowTitle(QStringLiteral("attnx"));
  resize(1200, 800);

  auto* file = menuBar()->addMenu(tr("&File"));
  auto* open = file->addAction(tr("&Open model…"), this, &MainWindow::chooseModelFolder);
  open->setShortcut(QKeySequence::Open);
  open->setToolTip(tr("Open a Hugging Face GPT-2 folder (config.json + model.safetensors)"));
  file->addSeparator();
  auto* quit = file->addAction(tr("&Quit"), qApp, &QApplication::closeAllWindows);
  quit->setShortcut(QKeySequence::Quit);
  menuBar()->addMenu(tr("&Help"))->addAction(tr("&About attnx"), this, &MainWindow::showAbout);

  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  modelInfo_ = new QLabel(central);
  modelInfo_->setTextFormat(Qt::RichText);
  modelInfo_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  modelInfo_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(modelInfo_);
  setCentralWidget(central);
  refreshModelPanel();
}

MainWindow::~MainWindow() = default;

bool MainWindow::openModel(const QString& folder, bool quiet) {
  statusBar()->showMessage(tr("Loading model…"));
  const QString error = session_->load(folder);
  refreshModelPanel();
  if (!error.isEmpty()) {
    statusBar()->showMessage(tr("No model loaded"));
    if (!quiet)
      QMessageBox::warning(this, tr("Could not open the model"),
                           error + tr("\n\nChoose a GPT-2 folder with File → Open model…"));
    return false;
  }
  statusBar()->showMessage(tr("Model loaded: %1").arg(session_->summary().folder));
  return true;
}

void MainWindow::chooseModelFolder() {
  const QString dir = QFileDialog::getExistingDirectory(
      this, tr("Open a GPT-2 folder (config.json + model.safetensors, e.g. gpt2 from the Hugging Face hub)"));
  if (!dir.isEmpty()) openModel(dir);
}

void MainWindow::refreshModelPanel() {
  if (!session_->isLoaded()) {
    modelInfo_->setText(tr("<h2>No model loaded</h2><p>Open a GPT-2 folder with <b>File → Open model…</b> "
                           "(config.json and model.safetensors, as downloaded from the Hugging Face hub).</p>"));
    return;
  }
  const auto s = session_->summary();
  modelInfo_->setText(tr("<h2>Teacher model</h2><table cellpadding='4'>"
                         "<tr><td>Folder</td><td>%1</td></tr>"
                         "<tr><td>Parameters</td><td>%2</td></tr>"
                         "<tr><td>Layers × heads</td><td>%3 × %4</td></tr>"
                         "<tr><td>Width</td><td>%5</td></tr>"
                         "<tr><td>Context</td><td>%6 tokens</td></tr>"
                         "<tr><td>Vocabulary</td><td>%7</td></tr></table>")
                          .arg(s.folder.toHtmlEscaped())
                          .arg(s.parameters >= 1e6 ? tr("%1 M").arg(s.parameters / 1e6, 0, 'f', 1)
                                                 : tr("%1 k").arg(s.parameters / 1e3, 0, 'f', 1))
                          .arg(s.layers).arg(s.heads).arg(s.width).arg(s.context).arg(s.vocab));
}

void MainWindow::showAbout() {
  QMessageBox::about(this, tr("About attnx"),
                     tr("<b>attnx %1</b><p>An attention explorer for GPT-2-family models: learnable mixtures of "
                        "candidate attention masks, distilled from GPT-2.</p>").arg(QStringLiteral(ATTNX_VERSION)));
}

}  // namespace attnx::ui
