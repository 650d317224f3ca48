// Downloads a GPT-2 folder from a Hugging Face-style hub: each file is fetched from
// <endpoint>/<repo>/resolve/main/<file> into <file>.part, resumed with an HTTP Range request after a
// cancel or a dropped connection, checked (size, and sha256 where the hub states one) and only then
// renamed into place, so the destination never holds a half-written or corrupt file.
//
// The hub answers large (LFS) files with a redirect whose X-Linked-Size / X-Linked-Etag headers give
// the size and sha256 of the content; redirects are therefore followed here, by hand, to read them.
#pragma once

#include <QCryptographicHash>
#include <QFile>
#include <QNetworkReply>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QUrl>

class QNetworkAccessManager;

namespace attnx::ui {

// A model on the hub and the files attnx needs from it.
struct HubModel {
  QString repo;          // e.g. "openai-community/gpt2"
  QString displayName;   // "gpt2 (124M)"
  qint64 approxBytes = 0;  // for the dialog, before the server states sizes
  QStringList files{QStringLiteral("config.json"), QStringLiteral("vocab.json"), QStringLiteral("merges.txt"),
                    QStringLiteral("model.safetensors")};

  static QList<HubModel> known();  // gpt2, distilgpt2, gpt2-medium
};

class ModelDownloader : public QObject {
  Q_OBJECT
 public:
  explicit ModelDownloader(QObject* parent = nullptr);
  ~ModelDownloader() override;

  // The hub's address: $ATTNX_HF_ENDPOINT, else $HF_ENDPOINT, else https://huggingface.co.
  static QUrl defaultEndpoint();

  // Starts (or resumes: finished files are kept, .part files continued) the download of `model` into
  // `destDir`. Emits progress, then finished(true, "") or finished(false, message).
  void start(const QUrl& endpoint, const HubModel& model, const QString& destDir);
  // Stops now; the .part file stays so a later start() resumes. Emits finished(false, "cancelled").
  void cancel();
  bool isRunning() const { return reply_ != nullptr; }

  // Bytes asked for with a Range header in the last request of the current file (0: from the start).
  qint64 lastResumeOffset() const { return resumeOffset_; }

 Q_SIGNALS:
  // file: its name; done/total: bytes of that file (total -1 when unknown); fileIndex of fileCount.
  void progress(const QString& file, qint64 done, qint64 total, int fileIndex, int fileCount);
  void finished(bool ok, const QString& message);

 private:
  void startFile();
  void request(const QUrl& url, int redirectsLeft);
  void onMetaDataChanged();
  void onReadyRead();
  void onFinished();
  void fail(const QString& message);
  bool verifyAndPlace();

  QNetworkAccessManager* network_;
  QPointer<QNetworkReply> reply_;
  QUrl endpoint_;
  HubModel model_;
  QString destDir_;
  int fileIndex_ = 0;
  QFile part_;
  qint64 resumeOffset_ = 0;
  qint64 expectedSize_ = -1;  // from X-Linked-Size, Content-Range or Content-Length
  QString expectedSha256_;    // lower-case hex, empty when the hub states none
  bool cancelled_ = false;
  bool responseAccepted_ = false;
  QString httpError_;  // a bad HTTP status seen in the headers, reported when the reply finishes
};

}  // namespace attnx::ui
