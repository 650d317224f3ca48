// attnx: the desktop app. Wiring only; the views live in ui/.
#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>

#include "core/util/allocator_tuning.h"
#include "ui/main_window/main_window.h"

int main(int argc, char** argv) {
  attnx::tuneAllocatorForTensors(argv);
  QApplication app(argc, argv);
  attnx::ui::applyApplicationIdentity();

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Attention explorer for GPT-2-family models"));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("GPT-2 folder to open"), QStringLiteral("DIR"));
  // For the screenshot script and headless checks: render the window to a PNG and quit.
  QCommandLineOption shotOpt(QStringLiteral("screenshot"), QStringLiteral("Save the window as PNG and quit"),
                             QStringLiteral("FILE"));
  for (const auto* o : {&modelOpt, &shotOpt}) parser.addOption(*o);
  parser.process(app);

  attnx::ui::MainWindow window;
  window.show();
  const QString model = parser.value(modelOpt);
  // The default model is optional until one is installed: open it quietly, report a named one.
  window.openModel(model, /*quiet=*/model.isEmpty());
  if (parser.isSet(shotOpt)) {
    const QString file = parser.value(shotOpt);
    QTimer::singleShot(1500, &window, [&window, file] {
      const bool ok = window.grab().save(file, "PNG");
      QApplication::exit(ok ? 0 : 1);
    });
  }
  return QApplication::exec();
}
