// The GPT-2 downloader and its dialog against a small HTTP server on 127.0.0.1 that behaves like the
// Hugging Face hub: small files answered directly, the weights through a redirect carrying
// X-Linked-Size and X-Linked-Etag (sha256), byte ranges honoured. No outside network.
#include <QCryptographicHash>
#include <QDir>
#include <QLabel>
#include <QFile>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include "tests/support/test_support.h"
#include "ui/download/download_dialog.h"
#include "ui/download/model_downloader.h"

using attnx::ui::DownloadDialog;
using attnx::ui::HubModel;
using attnx::ui::ModelDownloader;

namespace {

QByteArray readFile(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return f.readAll();
}

// A hub in miniature. Each connection carries one request and is closed after the answer.
class FakeHub : public QObject {
 public:
  QMap<QString, QByteArray> files;   // file name -> content
  QString repo = QStringLiteral("openai-community/gpt2");
  QString lfsFile = QStringLiteral("model.safetensors");
  QByteArray statedSha;              // X-Linked-Etag of the LFS file (default: the true sha256)
  qint64 stallAfter = -1;            // LFS body: send this many bytes, then keep the socket open silently
  qint64 dropAfter = -1;             // LFS body: send this many bytes, then close the socket
  QStringList requests;              // "<path> <Range header>"

  FakeHub() {
    server_.listen(QHostAddress::LocalHost, 0);
    connect(&server_, &QTcpServer::newConnection, this, [this] {
      while (auto* s = server_.nextPendingConnection()) {
        connect(s, &QTcpSocket::readyRead, this, [this, s] { onData(s); });
        connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
      }
    });
  }
  QUrl endpoint() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(server_.serverPort())); }

 private:
  void onData(QTcpSocket* s) {
    QByteArray& buf = buffers_[s];
    buf += s->readAll();
    const int end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const QList<QByteArray> lines = buf.left(end).split('\n');
    buffers_.remove(s);  // one request per connection; a later socket may reuse this address
    const QByteArray path = lines[0].split(' ').value(1);
    QByteArray range;
    for (const auto& line : lines)
      if (line.toLower().startsWith("range:")) range = line.mid(6).trimmed();
    requests << QString::fromLatin1(path + " " + range);
    answer(s, QString::fromLatin1(path), range);
  }

  void send(QTcpSocket* s, const QByteArray& head, const QByteArray& body, bool close = true) {
    s->write(head + "\r\n" + body);
    s->flush();
    if (close) s->disconnectFromHost();
  }

  void answer(QTcpSocket* s, const QString& path, const QByteArray& range) {
    const QString prefix = QStringLiteral("/%1/resolve/main/").arg(repo);
    if (path.startsWith(prefix)) {
      const QString name = path.mid(prefix.size());
      if (!files.contains(name)) {
        send(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n", {});
        return;
      }
      if (name == lfsFile) {
        const QByteArray sha = statedSha.isEmpty()
            ? QCryptographicHash::hash(files[name], QCryptographicHash::Sha256).toHex() : statedSha;
        send(s, "HTTP/1.1 302 Found\r\nLocation: /cdn/" + name.toLatin1() + "\r\nX-Linked-Size: " +
                    QByteArray::number(files[name].size()) + "\r\nX-Linked-Etag: \"" + sha +
                    "\"\r\nContent-Length: 0\r\nConnection: close\r\n", {});
        return;
      }
      // A git blob id as ETag, as the hub sends for small files: not a sha256, so only the size counts.
      send(s, "HTTP/1.1 200 OK\r\nETag: \"0123456789abcdef0123456789abcdef01234567\"\r\nContent-Length: " +
                  QByteArray::number(files[name].size()) + "\r\nConnection: close\r\n", files[name]);
      return;
    }
    if (path == QStringLiteral("/cdn/") + lfsFile) {
      const QByteArray& all = files[lfsFile];
      qint64 first = 0;
      if (range.startsWith("bytes=")) first = range.mid(6, range.indexOf('-') - 6).toLongLong();
      QByteArray body = all.mid(first);
      QByteArray head = first > 0
          ? "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + QByteArray::number(first) + "-" +
                QByteArray::number(all.size() - 1) + "/" + QByteArray::number(all.size()) + "\r\n"
          : QByteArray("HTTP/1.1 200 OK\r\n");
      head += "Content-Length: " + QByteArray::number(body.size()) + "\r\nConnection: close\r\n";
      if (stallAfter >= 0) { send(s, head, body.left(stallAfter), false); return; }
      if (dropAfter >= 0) { send(s, head, body.left(dropAfter), false); s->abort(); return; }
      send(s, head, body);
      return;
    }
    send(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n", {});
  }

  QTcpServer server_;
  QHash<QTcpSocket*, QByteArray> buffers_;
};

}  // namespace

class TestModelDownload : public QObject {
  Q_OBJECT

  FakeHub* hub_ = nullptr;
  HubModel model_;

  // Runs one download to its end; returns finished's (ok, message).
  static QPair<bool, QString> runToEnd(ModelDownloader& d, const QUrl& endpoint, const HubModel& m,
                                       const QString& dir) {
    QSignalSpy done(&d, &ModelDownloader::finished);
    d.start(endpoint, m, dir);
    if (done.isEmpty() && !done.wait(20000)) return {false, QStringLiteral("timeout")};
    return {done.at(0).at(0).toBool(), done.at(0).at(1).toString()};
  }

  void checkAllPlaced(const QString& dir) {
    for (const auto& name : model_.files) {
      QCOMPARE(readFile(QDir(dir).filePath(name)), hub_->files[name]);
      QVERIFY(!QFile::exists(QDir(dir).filePath(name + ".part")));
    }
  }

 private Q_SLOTS:
  void init() {
    hub_ = new FakeHub;
    hub_->files["config.json"] = readFile(QString::fromStdString(attnx::test::fixture("gpt2-tiny/config.json")));
    hub_->files["model.safetensors"] =
        readFile(QString::fromStdString(attnx::test::fixture("gpt2-tiny/model.safetensors")));
    hub_->files["vocab.json"] = R"({"a": 0, "b": 1})";
    hub_->files["merges.txt"] = "#version: 0.2\na b\n";
    QVERIFY(hub_->files["model.safetensors"].size() > 100000);
    model_ = HubModel::known().first();
  }
  void cleanup() { delete hub_; }

  void downloadsEveryFileThroughTheRedirect() {
    QTemporaryDir dir;
    ModelDownloader d;
    const auto [ok, message] = runToEnd(d, hub_->endpoint(), model_, dir.path());
    QVERIFY2(ok, qPrintable(message));
    checkAllPlaced(dir.path());
    QVERIFY(hub_->requests.contains("/cdn/model.safetensors "));
  }

  void cancelKeepsThePartAndResumeUsesARange() {
    QTemporaryDir dir;
    hub_->stallAfter = 50000;
    ModelDownloader d;
    QSignalSpy done(&d, &ModelDownloader::finished);
    connect(&d, &ModelDownloader::progress, &d, [&d](const QString& file, qint64 got, qint64 total) {
      if (file == "model.safetensors" && got >= 50000) d.cancel();
    });
    d.start(hub_->endpoint(), model_, dir.path());
    QVERIFY(done.wait(20000));
    QCOMPARE(done.at(0).at(0).toBool(), false);
    QCOMPARE(done.at(0).at(1).toString(), QStringLiteral("cancelled"));
    QVERIFY(!QFile::exists(dir.filePath("model.safetensors")));
    const QByteArray part = readFile(dir.filePath("model.safetensors.part"));
    QCOMPARE(part.size(), 50000);
    QCOMPARE(part, hub_->files["model.safetensors"].left(50000));

    hub_->stallAfter = -1;
    d.disconnect(&d);  // drop the cancelling progress handler
    const auto [ok, message] = runToEnd(d, hub_->endpoint(), model_, dir.path());
    QVERIFY2(ok, qPrintable(message));
    QVERIFY2(hub_->requests.contains("/cdn/model.safetensors bytes=50000-"), qPrintable(hub_->requests.join('|')));
    QCOMPARE(d.lastResumeOffset(), qint64(50000));
    checkAllPlaced(dir.path());
  }

  void droppedConnectionSaysResumeAndResumes() {
    QTemporaryDir dir;
    hub_->dropAfter = 30000;
    ModelDownloader d;
    auto [ok, message] = runToEnd(d, hub_->endpoint(), model_, dir.path());
    QVERIFY(!ok);
    QVERIFY2(message.contains("model.safetensors") && message.contains("resume"), qPrintable(message));
    QVERIFY(!QFile::exists(dir.filePath("model.safetensors")));
    hub_->dropAfter = -1;
    std::tie(ok, message) = runToEnd(d, hub_->endpoint(), model_, dir.path());
    QVERIFY2(ok, qPrintable(message));
    checkAllPlaced(dir.path());
  }

  void wrongSha256DeletesTheFile() {
    QTemporaryDir dir;
    hub_->statedSha = QByteArray(64, 'a');
    ModelDownloader d;
    const auto [ok, message] = runToEnd(d, hub_->endpoint(), model_, dir.path());
    QVERIFY(!ok);
    QVERIFY2(message.contains("sha256") && message.contains(QString(64, 'a')), qPrintable(message));
    QVERIFY(!QFile::exists(dir.filePath("model.safetensors")));
    QVERIFY(!QFile::exists(dir.filePath("model.safetensors.part")));
    QVERIFY(QFile::exists(dir.filePath("config.json")));  // files before it were fine and stay
  }

  void missingFileReportsTheHttpStatus() {
    QTemporaryDir dir;
    hub_->files.remove("merges.txt");
    ModelDownloader d;
    const auto [ok, message] = runToEnd(d, hub_->endpoint(), model_, dir.path());
    QVERIFY(!ok);
    QVERIFY2(message.contains("HTTP 404") && message.contains("merges.txt"), qPrintable(message));
    QVERIFY(!QFile::exists(dir.filePath("merges.txt")));
  }

  void dialogDownloadsAndAnnouncesTheFolder() {
    QTemporaryDir dir;
    qputenv("ATTNX_HF_ENDPOINT", hub_->endpoint().toString().toLatin1());
    DownloadDialog dialog;
    dialog.folderEdit()->setText(dir.filePath("gpt2"));
    QSignalSpy ready(&dialog, &DownloadDialog::modelReady);
    QVERIFY(dialog.startButton()->isEnabled());
    QVERIFY(!dialog.cancelButton()->isEnabled());
    dialog.startButton()->click();
    QVERIFY(!dialog.startButton()->isEnabled());
    QVERIFY2(ready.wait(20000), qPrintable(dialog.statusLabel()->text() + " " + hub_->requests.join("|")));
    QCOMPARE(ready.at(0).at(0).toString(), dir.filePath("gpt2"));
    checkAllPlaced(dir.filePath("gpt2"));
    QVERIFY(dialog.startButton()->isEnabled());
    qunsetenv("ATTNX_HF_ENDPOINT");
  }
};

QTEST_MAIN(TestModelDownload)
#include "test_model_download.moc"
