// TrainingController: metrics arrive on the GUI thread (every step, in batches), pause holds the
// steps, resume continues, stop ends within a step with a checkpoint, the worker thread is gone
// afterwards, and a load error becomes failed() with the app going on.
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextStream>
#include <QtTest>

#include <limits>

#include "core/eval/teacher.h"
#include "core/io/gpt2_checkpoint.h"
#include "support/test_support.h"
#include "ui/bridge/training_controller.h"

using namespace attnx;
using namespace attnx::ui;

class TestUiTrainingController : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  QString text_;

  DistillConfig config(int steps) const {
    DistillConfig c;
    c.teacherDir = test::fixture("gpt2-tiny");
    c.dataPath = text_.toStdString();
    c.steps = steps;
    c.batchSize = 2;
    c.seqLen = 16;
    c.validateEvery = 0;
    c.checkpointEvery = 0;
    c.warmupSteps = 0;
    return c;
  }
  static MaskBank bank() {
    return test::makeBank({MaskSpec::window("w4", 4), MaskSpec::sinks("s1", 1), MaskSpec::offsetSet("prev", {0, 1})});
  }

 private Q_SLOTS:
  void initTestCase() {
    // Single letters on their own lines: GPT-2's tokenizer gives each a byte-level id below 256, so
    // the tiny fixture (vocabulary 311) can read the text.
    text_ = tmp_.filePath(QStringLiteral("letters.txt"));
    QFile f(text_);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QTextStream out(&f);
    for (int i = 0; i < 4000; ++i) out << QChar(QLatin1Char('a' + (i * 7 + i / 13) % 26)) << '\n';
  }

  void metricsArrivePauseResumeStop() {
    TrainingController controller;
    QSignalSpy started(&controller, &TrainingController::started);
    QSignalSpy metrics(&controller, &TrainingController::metrics);
    QSignalSpy finished(&controller, &TrainingController::finished);
    QSignalSpy failed(&controller, &TrainingController::failed);
    const QString run = tmp_.filePath(QStringLiteral("run"));
    QVERIFY(controller.start(config(1000000), bank(), run, false));
    QVERIFY(!controller.start(config(10), bank(), run, false));  // one job at a time
    QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 20000);
    const auto shape = started.at(0).at(0).value<TrainingShape>();
    QCOMPARE(shape.layers, 2);
    QCOMPARE(shape.heads, 4);
    QCOMPARE(shape.maskNames, (QStringList{QStringLiteral("w4"), QStringLiteral("s1"), QStringLiteral("prev")}));
    QTRY_VERIFY_WITH_TIMEOUT(controller.lastStep() >= 5, 20000);

    controller.setPaused(true);
    QVERIFY(controller.isPaused());
    // Let the step in flight finish and reach us; then nothing more may come while paused.
    QTest::qWait(500);
    const qint64 heldAt = controller.lastStep();
    QTest::qWait(500);
    QCOMPARE(controller.lastStep(), heldAt);

    controller.setPaused(false);
    QTRY_VERIFY_WITH_TIMEOUT(controller.lastStep() > heldAt + 2, 20000);
    controller.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QVERIFY(!controller.hasWorkerThread());
    QVERIFY(!controller.isRunning());
    QCOMPARE(failed.count(), 0);
    QCOMPARE(finished.at(0).at(0).toBool(), true);  // stopped, not finished
    const qint64 last = finished.at(0).at(1).toLongLong();

    // Every step's values arrived, in order, in fewer signals than steps (batched).
    qint64 expect = 1;
    for (const auto& args : metrics)
      for (const auto& s : args.at(0).value<TrainingSamples>()) {
        QCOMPARE(s.step, static_cast<int64_t>(expect++));
        QCOMPARE(s.alpha.size(), size_t(2 * 4 * 3));
        QVERIFY(std::isfinite(s.kl));
      }
    QCOMPARE(expect - 1, last);
    QVERIFY(metrics.count() <= last);
    // Stop wrote the checkpoint at the last step.
    QVERIFY(QFile::exists(run + QStringLiteral("/student.safetensors")));
    QVERIFY(QFile::exists(run + QStringLiteral("/learned_bank.json")));
    QCOMPARE(test::readJsonFile((run + QStringLiteral("/learned_bank.json")).toStdString())["step"].get<qint64>(), last);
  }

  void runsToTheEndAndResumes() {
    TrainingController controller;
    QSignalSpy finished(&controller, &TrainingController::finished);
    QSignalSpy started(&controller, &TrainingController::started);
    const QString run = tmp_.filePath(QStringLiteral("run2"));
    QVERIFY(controller.start(config(6), bank(), run, false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    QCOMPARE(finished.at(0).at(0).toBool(), false);
    QCOMPARE(finished.at(0).at(1).toLongLong(), qint64(6));
    // Resume the same folder to 9 steps: it continues after step 6.
    QVERIFY(controller.start(config(9), bank(), run, true));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 30000);
    QCOMPARE(started.at(1).at(0).value<TrainingShape>().startStep, qint64(6));
    QCOMPARE(finished.at(1).at(1).toLongLong(), qint64(9));
  }

  // The window's loaded teacher is shared by a frozen-weight run (no second copy), and its weights
  // are untouched by training; a run that trains every weight loads a private copy instead.
  void aLoadedTeacherIsSharedUnlessAllWeightsTrain() {
    auto loaded = Teacher::load(test::fixture("gpt2-tiny"));
    const auto before = loaded->model->wte->weight.clone();
    TrainingController controller;
    controller.setTeacherSource([loaded] { return loaded; });
    QSignalSpy messages(&controller, &TrainingController::message);
    QSignalSpy finished(&controller, &TrainingController::finished);
    auto said = [&](const QString& text) {
      for (const auto& m : messages)
        if (m.at(0).toString().contains(text)) return true;
      return false;
    };
    QVERIFY(controller.start(config(3), bank(), tmp_.filePath(QStringLiteral("shared")), false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
    QVERIFY(said(QStringLiteral("Using the loaded teacher")));
    QVERIFY(!said(QStringLiteral("Loading the teacher")));
    QCOMPARE(loaded.use_count(), 2L);  // the test and the source lambda: the worker let go of it
    QVERIFY(!loaded->model->wte->weight.requires_grad());

    messages.clear();
    DistillConfig all = config(3);
    all.trainAllWeights = true;
    QVERIFY(controller.start(all, bank(), tmp_.filePath(QStringLiteral("private")), false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 30000);
    QVERIFY(said(QStringLiteral("Loading the teacher")));
    QVERIFY(torch::equal(loaded->model->wte->weight, before));  // the shared weights did not train
  }

  void loadErrorsBecomeFailedAndTheThreadEnds() {
    TrainingController controller;
    QSignalSpy failed(&controller, &TrainingController::failed);
    QSignalSpy finished(&controller, &TrainingController::finished);
    DistillConfig c = config(5);
    c.dataPath = tmp_.filePath(QStringLiteral("no-such-text")).toStdString();
    QVERIFY(controller.start(c, bank(), tmp_.filePath(QStringLiteral("run3")), false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QCOMPARE(failed.count(), 1);
    QVERIFY2(failed.at(0).at(0).toString().contains(QStringLiteral("no-such-text")), qPrintable(failed.at(0).at(0).toString()));
    QVERIFY(!controller.hasWorkerThread());
    // A bad teacher folder: the loader's own message.
    c = config(5);
    c.teacherDir = tmp_.filePath(QStringLiteral("no-model")).toStdString();
    QVERIFY(controller.start(c, bank(), tmp_.filePath(QStringLiteral("run4")), false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 20000);
    QCOMPARE(failed.count(), 2);
    QVERIFY(failed.at(1).at(0).toString().contains(QStringLiteral("no-model")));
  }

  // A teacher file holding a NaN is refused when it loads, naming the tensor.
  void aNanTeacherIsRefusedNamingTheTensor() {
    const QString teacher = tmp_.filePath(QStringLiteral("nan-teacher"));
    {
      Gpt2 model = loadGpt2(test::fixture("gpt2-tiny"));
      torch::NoGradGuard noGrad;
      model->ln_f->weight[0] = std::numeric_limits<float>::quiet_NaN();
      saveGpt2(model, teacher.toStdString());
    }
    TrainingController controller;
    QSignalSpy failed(&controller, &TrainingController::failed);
    QSignalSpy finished(&controller, &TrainingController::finished);
    DistillConfig c = config(5);
    c.teacherDir = teacher.toStdString();
    QVERIFY(controller.start(c, bank(), tmp_.filePath(QStringLiteral("run-nan-teacher")), false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QCOMPARE(failed.count(), 1);
    QVERIFY2(failed.at(0).at(0).toString().endsWith(QStringLiteral("tensor ln_f.weight holds NaN or Inf values; the file is damaged")),
             qPrintable(failed.at(0).at(0).toString()));
  }

  void aNanLossBecomesFailedWithWhatToDo() {
    // A teacher whose final LayerNorm scales by the largest float: finite weights, but logits of
    // Inf, and so a NaN KL at the first step.
    const QString teacher = tmp_.filePath(QStringLiteral("overflow-teacher"));
    {
      Gpt2 model = loadGpt2(test::fixture("gpt2-tiny"));
      torch::NoGradGuard noGrad;
      model->ln_f->weight.fill_(std::numeric_limits<float>::max());
      saveGpt2(model, teacher.toStdString());
    }
    TrainingController controller;
    QSignalSpy failed(&controller, &TrainingController::failed);
    QSignalSpy finished(&controller, &TrainingController::finished);
    DistillConfig c = config(5);
    c.teacherDir = teacher.toStdString();
    QVERIFY(controller.start(c, bank(), tmp_.filePath(QStringLiteral("run-nan")), false));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QCOMPARE(failed.count(), 1);
    const QString message = failed.at(0).at(0).toString();
    QVERIFY2(message.contains(QStringLiteral("not finite")) && message.contains(QStringLiteral("lower learning rate")),
             qPrintable(message));
    QVERIFY(!controller.hasWorkerThread());
  }

  void destroyingTheControllerStopsTheRun() {
    const QString run = tmp_.filePath(QStringLiteral("run5"));
    {
      TrainingController controller;
      QVERIFY(controller.start(config(1000000), bank(), run, false));
      QTRY_VERIFY_WITH_TIMEOUT(controller.lastStep() >= 2, 20000);
    }  // the destructor stops, waits and the trainer checkpoints
    QVERIFY(QFile::exists(run + QStringLiteral("/student.safetensors")));
  }
};

QTEST_MAIN(TestUiTrainingController)
#include "test_ui_training_controller.moc"
