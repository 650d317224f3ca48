// attnx-tour: the desktop window driven by a script, for development (not installed):
//   --tour DIR          a short distillation and the analysis views, a screenshot after each step
//   --bench-latency     GUI event-loop latency while training, replot time at 100k points per curve
//   --soak MINUTES      memory and latency of a long session (scripts/soak.sh)
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include "core/util/allocator_tuning.h"
#include "ui/main_window/main_window.h"
#include "ui/tours/guided_tour.h"

int main(int argc, char** argv) {
  attnx::tuneAllocatorForTensors(argv);
  QApplication app(argc, argv);
  // The app's identity: the tours exercise its settings and recent files as a user's session would.
  attnx::ui::applyApplicationIdentity();

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("attnx's window driven through scripted sessions (development)"));
  parser.addHelpOption();
  QCommandLineOption modelOpt(QStringLiteral("model"), QStringLiteral("GPT-2 folder to open"), QStringLiteral("DIR"));
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
  QCommandLineOption seqOpt(QStringLiteral("seq-len"), QStringLiteral("Tokens per window"), QStringLiteral("N"),
                            QStringLiteral("64"));
  QCommandLineOption dataOpt(QStringLiteral("data"), QStringLiteral("Training text"), QStringLiteral("PATH"));
  for (const auto* o : {&modelOpt, &tourOpt, &benchOpt, &soakOpt, &stepsOpt, &seqOpt, &dataOpt}) parser.addOption(*o);
  parser.process(app);
  if (!parser.isSet(tourOpt) && !parser.isSet(benchOpt) && !parser.isSet(soakOpt)) {
    parser.showHelp(2);
  }

  attnx::ui::MainWindow window;
  window.show();
  attnx::ui::TourOptions options;
  options.outDir = parser.value(tourOpt);
  options.model = parser.value(modelOpt);
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
