// attnx: the desktop app. Wiring only; the views live in ui/.
#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>

#include "core/util/allocator_tuning.h"
#include "ui/main_window/guided_tour.h"
#include "ui/main_window/main_window.h"

int main(int argc, char** argv) {
  attnx::tuneAllocatorForTensors(argv);
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("attnx"));
  QApplication::setOrganizationName(QStringLiteral("attnx"));
  QApplication::setApplicationVersion(QStringLiteral(ATTNX_VERSION));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Attention explorer for GPT-2-family models"));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("GPT-2 folder to open"), QStringLiteral("DIR"));
  // For the screenshot script and headless checks: render the window to a PNG and quit.
  QCommandLineOption shotOpt(QStringLiteral("screenshot"), QStringLiteral("Save the window as PNG and quit"),
                             QStringLiteral("FILE"));
  QCommandLineOption tourOpt(QStringLiteral("tour"),
                             QStringLiteral("Drive the app through a short distillation, saving screenshots into DIR, and quit"),
                             QStringLiteral("DIR"));
  QCommandLineOption benchOpt(QStringLiteral("bench-latency"),
                              QStringLiteral("Measure GUI event-loop latency during a short distillation and the replot time "
                                             "of 100k points per curve; print them and quit"));
  QCommandLineOption soakOpt(QStringLiteral("soak"),
                             QStringLiteral("Distil for MINUTES with the attention view refreshing; print memory and "
                                            "event-loop latency each minute, then quit (scripts/soak.sh)"),
                             QStringLiteral("MINUTES"));
  QCommandLineOption stepsOpt(QStringLiteral("steps"), QStringLiteral("Training steps of --tour / --bench-latency"),
                              QStringLiteral("N"), QStringLiteral("60"));
  QCommandLineOption seqOpt(QStringLiteral("seq-len"), QStringLiteral("Tokens per window of --tour / --bench-latency"),
                            QStringLiteral("N"), QStringLiteral("64"));
  QCommandLineOption dataOpt(QStringLiteral("data"), QStringLiteral("Training text of --tour / --bench-latency"),
                             QStringLiteral("PATH"));
  for (const auto* o : {&modelOpt, &shotOpt, &tourOpt, &benchOpt, &soakOpt, &stepsOpt, &seqOpt, &dataOpt}) parser.addOption(*o);
  parser.process(app);

  attnx::ui::MainWindow window;
  window.show();
  const QString model = parser.value(modelOpt);
  if (parser.isSet(tourOpt) || parser.isSet(benchOpt) || parser.isSet(soakOpt)) {
    attnx::ui::TourOptions options;
    options.outDir = parser.value(tourOpt);
    options.model = model;
    options.data = parser.value(dataOpt);
    options.steps = parser.value(stepsOpt).toInt();
    options.seqLen = parser.value(seqOpt).toInt();
    const bool tour = parser.isSet(tourOpt);
    const int soakMinutes = parser.isSet(soakOpt) ? parser.value(soakOpt).toInt() : 0;
    QTimer::singleShot(0, &window, [&window, options, tour, soakMinutes] {
      const int code = soakMinutes > 0 ? attnx::ui::runSoak(window, options, soakMinutes)
                       : tour         ? attnx::ui::runGuidedTour(window, options)
                                      : attnx::ui::runLatencyBenchmark(window, options);
      QApplication::exit(code);
    });
    return QApplication::exec();
  }
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
