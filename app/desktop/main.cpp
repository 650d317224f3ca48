// attnx: the desktop app. Wiring only; the views live in ui/.
#include <QApplication>
#include <QCommandLineParser>

#include "ui/main_window/main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("attnx"));
  QApplication::setOrganizationName(QStringLiteral("attnx"));
  QApplication::setApplicationVersion(QStringLiteral(ATTNX_VERSION));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Attention explorer for GPT-2-family models"));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("GPT-2 folder to open"), QStringLiteral("DIR"));
  parser.addOption(modelOpt);
  parser.process(app);

  attnx::ui::MainWindow window;
  window.show();
  // The default model is optional until one is installed: open it quietly, report a named one.
  const QString model = parser.value(modelOpt);
  window.openModel(model, /*quiet=*/model.isEmpty());
  return QApplication::exec();
}
