#include "ui/main_window/model_panel.h"

#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include "ui/bridge/runtime_info.h"

namespace attnx::ui {

ModelPanel::ModelPanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  info_ = new QLabel(this);
  info_->setTextFormat(Qt::RichText);
  info_->setWordWrap(true);
  info_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(info_);
  open_ = new QPushButton(tr("Open model…"), this);
  open_->setToolTip(tr("Open a Hugging Face GPT-2 folder (config.json + model.safetensors) — Ctrl+O"));
  connect(open_, &QPushButton::clicked, this, &ModelPanel::openRequested);
  layout->addWidget(open_, 0, Qt::AlignLeft);
  layout->addStretch();
  showModel(nullptr);
}

QString ModelPanel::text() const { return info_->text(); }

void ModelPanel::showLoading(const QString& folder) {
  info_->setText(tr("<h3>Loading…</h3><p>%1</p>").arg(folder.isEmpty() ? tr("the default model") : folder.toHtmlEscaped()));
  open_->setEnabled(false);
}

void ModelPanel::showError(const QString& error) {
  info_->setText(tr("<h3>No model loaded</h3><p style='color:#b00020'>%1</p><p>Open a GPT-2 folder with "
                    "<b>File → Open model…</b>: config.json and model.safetensors as on the Hugging Face hub "
                    "(e.g. <tt>git clone https://huggingface.co/gpt2</tt>).</p>")
                     .arg(error.toHtmlEscaped()));
  open_->setEnabled(true);
}

void ModelPanel::showModel(const ModelSummary* s) {
  open_->setEnabled(true);
  const auto rt = runtimeInfo();
  if (!s) {
    info_->setText(tr("<h3>No model loaded</h3><p>Open a GPT-2 folder with <b>File → Open model…</b> "
                      "(config.json and model.safetensors, as downloaded from the Hugging Face hub).</p>"
                      "<p>Device: %1 · threads: %2</p>").arg(rt.device).arg(rt.threads));
    return;
  }
  info_->setText(tr("<h3>Teacher model</h3><table cellpadding='3'>"
                    "<tr><td>Folder</td><td>%1</td></tr>"
                    "<tr><td>Parameters</td><td>%2</td></tr>"
                    "<tr><td>Layers × heads</td><td>%3 × %4</td></tr>"
                    "<tr><td>Width</td><td>%5</td></tr>"
                    "<tr><td>Context</td><td>%6 tokens</td></tr>"
                    "<tr><td>Vocabulary</td><td>%7</td></tr>"
                    "<tr><td>Device</td><td>%8 · threads: %9</td></tr></table>")
                     .arg(s->folder.toHtmlEscaped())
                     .arg(s->parameters >= 1e6 ? tr("%1 M").arg(s->parameters / 1e6, 0, 'f', 1)
                                               : tr("%1 k").arg(s->parameters / 1e3, 0, 'f', 1))
                     .arg(s->layers).arg(s->heads).arg(s->width).arg(s->context).arg(s->vocab)
                     .arg(rt.device).arg(rt.threads));
}

}  // namespace attnx::ui
