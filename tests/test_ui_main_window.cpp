// Smoke test of the main window: every panel is there and can be hidden from the View menu, a
// panel added by another part lands in View too, a model loads off the GUI thread (and a bad one
// reports the loader's error), a short run trains, stops, is saved elsewhere and reopened, and closing
// the window during training asks, stops the run and leaves its checkpoint.
#include <QApplication>
#include <QDockWidget>
#include <QAction>
#include <QSettings>
#include <QSpinBox>
#include <QUndoStack>
#include <QFile>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QTextStream>
#include <QtTest>

#include "support/test_support.h"
#include "ui/bank_editor/bank_editor_panel.h"
#include "ui/bank_editor/combined_mask_view.h"
#include "ui/bank_editor/mask_bank_model.h"
#include "ui/bridge/model_session.h"
#include "ui/bridge/training_controller.h"
#include "ui/main_window/main_window.h"
#include "ui/main_window/workspaces.h"
#include "ui/main_window/model_panel.h"
#include "ui/plots/coefficient_plot.h"
#include "ui/plots/loss_plot.h"
#include "ui/training/coefficient_panel.h"
#include "ui/training/loss_panel.h"
#include "ui/training/training_form.h"
#include "ui/training/training_panel.h"

using namespace attnx;
using namespace attnx::ui;

class TestUiMainWindow : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;

  static bool load(MainWindow& w, const QString& folder, QString* error = nullptr) {
    QSignalSpy loaded(&w, &MainWindow::modelLoaded);
    w.openModel(folder, /*quiet=*/true);
    if (!loaded.wait(30000)) return false;
    if (error) *error = loaded.at(0).at(1).toString();
    return loaded.at(0).at(0).toBool();
  }

 private Q_SLOTS:
  // The form starts from the study's distillation settings (docs/study/config.json), so a first run
  // learns a sparse plan (λ₁ > 0) the way the study's winning runs did.
  void formStartsFromTheStudysSettings() {
    TrainingForm form;
    const auto c = form.config();
    const auto study = test::readJsonFile(test::fixture("../../docs/study/config.json"))["distill"];
    QCOMPARE(c.combine, study["combine"].get<std::string>());
    QCOMPARE(c.lambdaL1, study["lambda_l1"].get<double>());
    QCOMPARE(c.l1DensityWeighted, study["l1_density_weighted"].get<bool>());
    QCOMPARE(c.initialCoefficient, study["initial_coefficient"].get<double>());
    QVERIFY(c.lambdaL1 > 0);
  }

  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // settings and default run folders away from the user's
    QCoreApplication::setOrganizationName(QStringLiteral("attnx-test"));
    QCoreApplication::setApplicationName(QStringLiteral("attnx-test"));
  }

  void everyPanelIsThereAndToggles() {
    MainWindow w;
    w.show();
    const QStringList expected = {QStringLiteral("Model"), QStringLiteral("Mask bank"), QStringLiteral("Training"),
                                  QStringLiteral("Loss curves"), QStringLiteral("Coefficients"),
                                  QStringLiteral("Coefficient grid")};
    const auto docks = w.findChildren<QDockWidget*>();
    QStringList titles;
    for (auto* d : docks) titles << d->windowTitle();
    for (const auto& t : expected) QVERIFY2(titles.contains(t), qPrintable(t));
    for (auto* d : docks) {  // shown or hidden by the workspace: View toggles it either way
      QVERIFY2(d->widget() && !d->objectName().isEmpty(), qPrintable(d->windowTitle()));
      QVERIFY(w.viewMenu()->actions().contains(d->toggleViewAction()));
      const bool hidden = d->isHidden();
      d->toggleViewAction()->trigger();
      QCOMPARE(d->isHidden(), !hidden);
      d->toggleViewAction()->trigger();
      QCOMPARE(d->isHidden(), hidden);
    }
    // One line adds an analysis view.
    auto* extra = w.addPanel(new QWidget, QStringLiteral("Attention"), QStringLiteral("AttentionDock"));
    QVERIFY(w.viewMenu()->actions().contains(extra->toggleViewAction()));
    QVERIFY(w.bankEditor()->model()->rowCount() > 0);
    QVERIFY(w.bankEditor()->combinedView()->summaryText().contains(QStringLiteral("Density")));
  }

  // Workspaces: each shows its own docks; a user's change to one is kept when switching away and
  // back, and across windows (QSettings); Reset layout restores the workspace's default.
  void workspacesShowTheirDocks() {
    QSettings().remove(QStringLiteral("workspaces"));
    auto dock = [](MainWindow& w, const char* name) { return w.findChild<QDockWidget*>(QString::fromLatin1(name)); };
    {
      MainWindow w;
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      auto* ws = w.workspaces();
      QTRY_VERIFY(ws->isReady());  // arranged once the window has its geometry
      QCOMPARE(ws->ids(), (QStringList{QStringLiteral("design"), QStringLiteral("train"), QStringLiteral("analyse"),
                                        QStringLiteral("experiments")}));
      QCOMPARE(ws->current(), QStringLiteral("design"));  // a first start
      QVERIFY(dock(w, "MaskBankDock")->isVisible() && !dock(w, "AttentionDock")->isVisible());
      QCOMPARE(ws->action(QStringLiteral("analyse"))->shortcut(), QKeySequence(QStringLiteral("Ctrl+3")));
      ws->action(QStringLiteral("analyse"))->trigger();
      QCOMPARE(ws->current(), QStringLiteral("analyse"));
      QVERIFY(dock(w, "AttentionDock")->isVisible() && !dock(w, "MaskBankDock")->isVisible() &&
              !dock(w, "TrainingDock")->isVisible());
      ws->switchTo(QStringLiteral("train"));
      QVERIFY(dock(w, "TrainingDock")->isVisible() && dock(w, "LossDock")->isVisible() && !dock(w, "AttentionDock")->isVisible());
      dock(w, "LossDock")->close();  // the user's change to Train
      ws->switchTo(QStringLiteral("design"));
      ws->switchTo(QStringLiteral("train"));
      QVERIFY(!dock(w, "LossDock")->isVisible());
      w.close();  // saves the arrangements and the current workspace
    }
    {
      MainWindow w;
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      QTRY_VERIFY(w.workspaces()->isReady());
      QCOMPARE(w.workspaces()->current(), QStringLiteral("train"));
      QVERIFY(!dock(w, "LossDock")->isVisible() && dock(w, "TrainingDock")->isVisible());
      w.workspaces()->resetCurrent();
      QVERIFY(dock(w, "LossDock")->isVisible());
    }
    QSettings().remove(QStringLiteral("workspaces"));
  }

  // The combined mask uses learned coefficients only with the bank they were learned for: after
  // File -> New mask bank it shows the initial coefficients; and the editor's one n draws it.
  void combinedMaskKeepsCoefficientsWithTheirBank() {
    MainWindow w;
    auto* combined = w.bankEditor()->combinedView();
    const int K = w.bankEditor()->model()->rowCount();
    combined->setModelShape(1, 1);
    std::vector<float> alpha(static_cast<size_t>(K), 0.0f);
    alpha[0] = 1.0f;  // only the first mask
    combined->setCoefficients(alpha);
    QVERIFY(combined->showsLearnedCoefficients());
    w.bankEditor()->model()->removeMask(K - 1);  // another bank now: K - 1 masks
    QVERIFY(!combined->showsLearnedCoefficients());
    w.bankEditor()->model()->undoStack()->undo();  // the learned-for bank again: its coefficients apply
    QVERIFY(combined->showsLearnedCoefficients());
    w.bankEditor()->newBank();
    QVERIFY(!combined->showsLearnedCoefficients());
    QTRY_VERIFY(combined->summaryText().contains(QStringLiteral("initial coefficients")));
    QSpinBox* n = nullptr;
    for (auto* spin : w.bankEditor()->findChildren<QSpinBox*>())
      if (spin->toolTip().contains(QStringLiteral("combined mask"))) n = spin;
    QVERIFY(n);
    n->setValue(96);
    QCOMPARE(combined->length(), 96);
    QTRY_VERIFY(combined->summaryText().contains(QStringLiteral("n = 96")));
  }

  void modelLoadsAndABadFolderReportsTheLoadersError() {
    MainWindow w;
    QVERIFY(load(w, QString::fromStdString(test::fixture("gpt2-tiny"))));
    QVERIFY(w.modelSession()->isLoaded());
    QVERIFY2(w.modelPanel()->text().contains(QStringLiteral("2 × 4")), qPrintable(w.modelPanel()->text()));
    QString error;
    QVERIFY(!load(w, tmp_.filePath(QStringLiteral("not-a-model")), &error));
    QVERIFY2(error.contains(QStringLiteral("not-a-model")), qPrintable(error));
    QVERIFY(w.modelSession()->isLoaded());  // the previous model stays
  }

  void trainStopSaveAndReopenARun() {
    const QString text = tmp_.filePath(QStringLiteral("letters.txt"));
    {
      QFile f(text);
      QVERIFY(f.open(QIODevice::WriteOnly));
      QTextStream out(&f);
      for (int i = 0; i < 3000; ++i) out << QChar(QLatin1Char('a' + (i * 11) % 26)) << '\n';
    }
    MainWindow w;
    w.show();
    QVERIFY(load(w, QString::fromStdString(test::fixture("gpt2-tiny"))));
    DistillConfig c = w.trainingPanel()->form()->config();
    c.dataPath = text.toStdString();
    c.validationPath = text.toStdString();
    c.validationWindows = 2;
    c.validateEvery = 2;
    c.steps = 1000000;
    c.seqLen = 16;
    c.batchSize = 2;
    w.trainingPanel()->form()->setConfig(c);
    const QString run = tmp_.filePath(QStringLiteral("run"));
    w.trainingPanel()->form()->setRunFolder(run);
    QString error;
    QVERIFY2(w.trainingPanel()->startTraining(&error), qPrintable(error));
    auto* controller = w.trainingController();
    QTRY_VERIFY_WITH_TIMEOUT(controller->lastStep() >= 4, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(w.lossPanel()->plot()->pointCount(LossPlot::Kl) >= 4, 5000);
    QVERIFY(w.coefficientPanel()->plot()->pointCount() >= 4);
    QVERIFY(!w.saveRunAs(tmp_.filePath(QStringLiteral("copy")), &error));  // not while training
    controller->stop();
    QTRY_VERIFY_WITH_TIMEOUT(!controller->isRunning(), 20000);
    const qint64 steps = controller->lastStep();
    // No stale ETA once stopped; a reopened run says where it stands, not "not started".
    QVERIFY2(!w.trainingPanel()->progressText().contains(QStringLiteral("ETA")), qPrintable(w.trainingPanel()->progressText()));
    QVERIFY2(w.trainingPanel()->progressText().contains(QStringLiteral("stopped at step %1").arg(steps)),
             qPrintable(w.trainingPanel()->progressText()));
    QVERIFY(QFile::exists(run + QStringLiteral("/bank.json")));  // the bank that trained, for run.json

    const QString copy = tmp_.filePath(QStringLiteral("copy"));
    QVERIFY2(w.saveRunAs(copy, &error), qPrintable(error));
    MainWindow other;
    QVERIFY(other.openRun(copy, /*quiet=*/true));
    QVERIFY2(other.trainingPanel()->progressText().contains(QStringLiteral("opened run: step %1 / 1000000").arg(steps)),
             qPrintable(other.trainingPanel()->progressText()));
    QCOMPARE(other.lossPanel()->plot()->pointCount(LossPlot::Kl), int(steps));
    QCOMPARE(other.coefficientPanel()->plot()->pointCount(), int(steps));
    QCOMPARE(other.coefficientPanel()->plot()->curveCount(), 2 * 4 * w.bankEditor()->model()->rowCount());
    QVERIFY(other.bankEditor()->bank() == w.bankEditor()->bank());
    QVERIFY(!other.openRun(tmp_.filePath(QStringLiteral("nothing-here")), true));
  }

  void closingDuringTrainingAsksStopsAndCheckpoints() {
    const QString text = tmp_.filePath(QStringLiteral("letters2.txt"));
    {
      QFile f(text);
      QVERIFY(f.open(QIODevice::WriteOnly));
      QTextStream out(&f);
      for (int i = 0; i < 3000; ++i) out << QChar(QLatin1Char('a' + (i * 5) % 26)) << '\n';
    }
    MainWindow w;
    w.show();
    QVERIFY(load(w, QString::fromStdString(test::fixture("gpt2-tiny"))));
    DistillConfig c = w.trainingPanel()->form()->config();
    c.dataPath = text.toStdString();
    c.validationPath.clear();
    c.steps = 1000000;
    c.seqLen = 16;
    c.batchSize = 2;
    c.checkpointEvery = 0;
    w.trainingPanel()->form()->setConfig(c);
    const QString run = tmp_.filePath(QStringLiteral("closing"));
    w.trainingPanel()->form()->setRunFolder(run);
    QString error;
    QVERIFY2(w.trainingPanel()->startTraining(&error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(w.trainingController()->lastStep() >= 2, 20000);
    QVERIFY(!QFile::exists(run + QStringLiteral("/student.safetensors")));  // no checkpoint yet
    // First answer Cancel: the window stays and training goes on; then Yes.
    bool asked = false;
    auto answer = [&](QMessageBox::StandardButton button) {
      QTimer::singleShot(100, [&asked, button] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) return;
        asked = true;
        box->button(button)->click();
      });
    };
    answer(QMessageBox::Cancel);
    QVERIFY(!w.close());
    QVERIFY(asked);
    QVERIFY(w.trainingController()->isRunning());
    asked = false;
    answer(QMessageBox::Yes);
    QVERIFY(w.close());
    QVERIFY(asked);
    QVERIFY(!w.trainingController()->isRunning());
    QVERIFY(QFile::exists(run + QStringLiteral("/student.safetensors")));
    const auto learned = test::readJsonFile((run + QStringLiteral("/learned_bank.json")).toStdString());
    QCOMPARE(learned["step"].get<qint64>(), w.trainingController()->lastStep());
  }
};

QTEST_MAIN(TestUiMainWindow)
#include "test_ui_main_window.moc"
