// The mask bank editor's model: every edit emits the matching model signals and is undoable,
// reordering by drag goes through the same move, the bank survives a JSON round trip, and the
// combined mask's block layout matches a hand count.
#include <QMimeData>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "ui/bank_editor/bank_editor_panel.h"
#include "ui/bank_editor/mask_bank_model.h"
#include "ui/bank_editor/mask_image.h"

using namespace attnx;
using namespace attnx::ui;

namespace {
std::vector<std::string> names(const MaskBankModel& m) {
  std::vector<std::string> out;
  for (const auto& s : m.bank().masks) out.push_back(s.name);
  return out;
}
}  // namespace

class TestUiBankModel : public QObject {
  Q_OBJECT
  MaskBankModel* model_ = nullptr;

 private Q_SLOTS:
  void init() {
    model_ = new MaskBankModel(this);
    model_->setBank(test::makeBank({MaskSpec::causal("causal"), MaskSpec::window("win", 4), MaskSpec::sinks("sinks", 2)}));
  }
  void cleanup() { delete model_; }

  void addEmitsRowsInsertedAndUndoRemovesIt() {
    QSignalSpy inserted(model_, &QAbstractItemModel::rowsInserted);
    QSignalSpy removed(model_, &QAbstractItemModel::rowsRemoved);
    QVERIFY(!model_->isModified());
    model_->addMask(MaskSpec::strided("win", 3), 1);  // the name is taken: made unique
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 1);
    QCOMPARE(inserted.at(0).at(2).toInt(), 1);
    QCOMPARE(names(*model_), (std::vector<std::string>{"causal", "win-2", "win", "sinks"}));
    QVERIFY(model_->isModified());
    model_->undoStack()->undo();
    QCOMPARE(removed.count(), 1);
    QCOMPARE(removed.at(0).at(1).toInt(), 1);
    QCOMPARE(names(*model_), (std::vector<std::string>{"causal", "win", "sinks"}));
    QVERIFY(!model_->isModified());
    model_->undoStack()->redo();
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(model_->mask(1).family, MaskFamily::Strided);
  }

  void editEmitsDataChangedAndMergesIntoOneUndoStep() {
    QSignalSpy changed(model_, &QAbstractItemModel::dataChanged);
    QVERIFY(model_->setMask(1, MaskSpec::window("win", 5)).isEmpty());
    QVERIFY(model_->setMask(1, MaskSpec::window("win", 6)).isEmpty());
    QCOMPARE(changed.count(), 2);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 1);
    QCOMPARE(model_->mask(1).w, int64_t(6));
    QCOMPARE(model_->undoStack()->count(), 1);  // consecutive edits of one mask merge
    model_->undoStack()->undo();
    QCOMPARE(model_->mask(1).w, int64_t(4));
    QCOMPARE(changed.count(), 3);
  }

  void invalidEditsAreRefusedWithTheProblem() {
    QSignalSpy changed(model_, &QAbstractItemModel::dataChanged);
    const QString bad = model_->setMask(1, MaskSpec::window("win", 0));
    QVERIFY2(bad.contains(QStringLiteral("\"w\"")), qPrintable(bad));
    const QString dup = model_->setMask(1, MaskSpec::window("sinks", 4));
    QVERIFY2(dup.contains(QStringLiteral("sinks")), qPrintable(dup));
    QCOMPARE(changed.count(), 0);
    QCOMPARE(model_->undoStack()->count(), 0);
  }

  void removeAndDuplicate() {
    QSignalSpy removed(model_, &QAbstractItemModel::rowsAboutToBeRemoved);
    model_->removeMask(0);
    QCOMPARE(removed.count(), 1);
    QCOMPARE(names(*model_), (std::vector<std::string>{"win", "sinks"}));
    model_->duplicateMask(0);
    QCOMPARE(names(*model_), (std::vector<std::string>{"win", "win-2", "sinks"}));
    QCOMPARE(model_->mask(1).w, int64_t(4));
    model_->undoStack()->undo();
    model_->undoStack()->undo();
    QCOMPARE(names(*model_), (std::vector<std::string>{"causal", "win", "sinks"}));
  }

  void moveAndDragDropReorder() {
    QSignalSpy moved(model_, &QAbstractItemModel::rowsMoved);
    model_->moveMask(0, 2);
    QCOMPARE(moved.count(), 1);
    QCOMPARE(names(*model_), (std::vector<std::string>{"win", "sinks", "causal"}));
    model_->undoStack()->undo();
    QCOMPARE(names(*model_), (std::vector<std::string>{"causal", "win", "sinks"}));
    // A drag of row 2 dropped before row 0, as QListView delivers it.
    std::unique_ptr<QMimeData> data(model_->mimeData({model_->index(2)}));
    model_->dropMimeData(data.get(), Qt::MoveAction, 0, 0, {});
    QCOMPARE(names(*model_), (std::vector<std::string>{"sinks", "causal", "win"}));
    // Dropped at the end (row -1 on the empty area).
    data.reset(model_->mimeData({model_->index(0)}));
    model_->dropMimeData(data.get(), Qt::MoveAction, -1, -1, {});
    QCOMPARE(names(*model_), (std::vector<std::string>{"causal", "win", "sinks"}));
    QCOMPARE(model_->undoStack()->count(), 2);  // the undone move was discarded by the next push
  }

  void thumbnailsAndDensity() {
    model_->setPreviewLength(8);
    // window w=4 at n=8: rows allow min(i+1, 4) keys: 1+2+3+4*5 = 26 of 36 causal pairs.
    QCOMPARE(model_->data(model_->index(1), MaskBankModel::DensityRole).toDouble(), 26.0 / 36.0);
    const QImage img = maskImage(model_->mask(1), 8);
    QCOMPARE(img.size(), QSize(8, 8));
    QCOMPARE(img.pixel(0, 7), img.pixel(3, 7));  // (7,0) and (7,3): both outside the window (i − j ≥ 4)
    QVERIFY(img.pixel(3, 7) != img.pixel(4, 7));  // (7,4) is inside
  }

  void jsonRoundTrip() {
    QTemporaryDir tmp;
    model_->setMask(1, MaskSpec::window("win", 16));
    model_->addMask(MaskSpec::painted("paint", 2, {1, 0, 1, 1}));
    const auto path = tmp.filePath(QStringLiteral("bank.json")).toStdString();
    model_->bank().save(path);
    const auto doc = test::readJsonFile(path);
    QCOMPARE(doc["masks"][1]["family"].get<std::string>(), std::string("window"));
    QCOMPARE(doc["masks"][1]["w"].get<int>(), 16);
    QCOMPARE(doc["masks"][3]["grid"].size(), size_t(2));
    MaskBankModel other;
    other.setBank(MaskBank::load(path));
    QVERIFY(other.bank() == model_->bank());
    QCOMPARE(other.rowCount(), 4);
  }

  void badBankFileLeavesTheEditorAlone() {
    BankEditorPanel panel;
    const auto before = panel.bank();
    QVERIFY(!panel.openBank(QString::fromStdString(test::fixture("banks/out-of-range.json")), /*quiet=*/true));
    QVERIFY(panel.bank() == before);
    QVERIFY(panel.openBank(QString::fromStdString(test::fixture("../../resources/banks/local-sinks.json")), true));
    QVERIFY(!panel.isModified());
  }

  void blockLayoutMatchesAHandCount() {
    // window w=2 at n=4, blocks of 2: tile (0,0) pairs (0,0),(1,0),(1,1) all attended: full;
    // tile (1,0) pairs (2,0),(2,1),(3,0),(3,1): only (2,1) has i-j<2: partial;
    // tile (1,1) pairs (2,2),(3,2),(3,3): all attended: full.
    const auto bank = test::makeBank({MaskSpec::window("w2", 2)});
    const auto layout = blockLayoutOf(bank.combined({1.0}, 4), 2);
    QCOMPARE(layout.blocks, 2);
    QCOMPARE(layout.full, 2);
    QCOMPARE(layout.partial, 1);
    QCOMPARE(layout.empty, 0);
    QCOMPARE(int(layout.kind[1 * 2 + 0]), 1);
    // With alpha 0 nothing is attended: every causal tile is empty.
    const auto none = blockLayoutOf(bank.combined({0.0}, 4), 2);
    QCOMPARE(none.empty, 3);
  }
};

QTEST_MAIN(TestUiBankModel)
#include "test_ui_bank_model.moc"
