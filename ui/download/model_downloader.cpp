#include "ui/download/model_downloader.h"

#include <QDir>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRegularExpression>
#include <QtGlobal>

namespace attnx::ui {
namespace {

// An ETag or X-Linked-Etag that is a sha256 (the hub's LFS files): 64 hex digits, maybe quoted or weak.
QString sha256FromEtag(QByteArray tag) {
  tag = tag.trimmed();
  if (tag.startsWith("W/")) tag = tag.mid(2);
  if (tag.size() >= 2 && tag.startsWith('"') && tag.endsWith('"')) tag = tag.mid(1, tag.size() - 2);
  static const QRegularExpression hex64(QStringLiteral("^[0-9a-fA-F]{64}$"));
  const QString s = QString::fromLatin1(tag);
  return hex64.match(s).hasMatch() ? s.toLower() : QString();
}

QString humanBytes(qint64 bytes) {
  if (bytes < 0) return QStringLiteral("?");
  if (bytes >= 1000LL * 1000 * 1000) return QString::number(double(bytes) / 1e9, 'f', 2) + QStringLiteral(" GB");
  if (bytes >= 1000LL * 1000) return QString::number(double(bytes) / 1e6, 'f', 1) + QStringLiteral(" MB");
  return QString::number(bytes) + QStringLiteral(" bytes");
}

}  // namespace

QList<HubModel> HubModel::known() {
  HubModel gpt2{QStringLiteral("openai-community/gpt2"), QStringLiteral("gpt2 (124M parameters)"), 548LL * 1000 * 1000};
  HubModel distil{QStringLiteral("distilbert/distilgpt2"), QStringLiteral("distilgpt2 (82M parameters)"), 353LL * 1000 * 1000};
  HubModel medium{QStringLiteral("openai-community/gpt2-medium"), QStringLiteral("gpt2-medium (355M parameters)"),
                  1520LL * 1000 * 1000};
  return {gpt2, distil, medium};
}

ModelDownloader::ModelDownloader(QObject* parent) : QObject(parent), network_(new QNetworkAccessManager(this)) {}

ModelDownloader::~ModelDownloader() {
  if (reply_) {
    reply_->disconnect(this);
    reply_->abort();
  }
}

QUrl ModelDownloader::defaultEndpoint() {
  for (const char* name : {"ATTNX_HF_ENDPOINT", "HF_ENDPOINT"}) {
    const QString value = qEnvironmentVariable(name);
    if (!value.isEmpty()) return QUrl(value);
  }
  return QUrl(QStringLiteral("https://huggingface.co"));
}

void ModelDownloader::start(const QUrl& endpoint, const HubModel& model, const QString& destDir) {
  if (reply_) return;
  endpoint_ = endpoint;
  model_ = model;
  destDir_ = destDir;
  fileIndex_ = 0;
  cancelled_ = false;
  if (!QDir().mkpath(destDir)) {
    fail(tr("Cannot create the folder %1. Choose a folder you can write to.").arg(destDir));
    return;
  }
  startFile();
}

void ModelDownloader::cancel() {
  if (!reply_) return;
  cancelled_ = true;
  reply_->abort();  // onFinished reports the cancel
}

void ModelDownloader::startFile() {
  while (fileIndex_ < model_.files.size() && QFile::exists(QDir(destDir_).filePath(model_.files[fileIndex_])))
    ++fileIndex_;  // placed files were verified before they were renamed into place
  if (fileIndex_ >= model_.files.size()) {
    Q_EMIT finished(true, QString());
    return;
  }
  const QString name = model_.files[fileIndex_];
  part_.close();
  part_.setFileName(QDir(destDir_).filePath(name + QStringLiteral(".part")));
  if (!part_.open(QIODevice::ReadWrite)) {
    fail(tr("Cannot write %1: %2").arg(part_.fileName(), part_.errorString()));
    return;
  }
  part_.seek(part_.size());
  resumeOffset_ = part_.size();
  expectedSize_ = -1;
  expectedSha256_.clear();
  QUrl url = endpoint_;
  url.setPath(endpoint_.path() + QStringLiteral("/%1/resolve/main/%2").arg(model_.repo, name));
  request(url, 5);
}

void ModelDownloader::request(const QUrl& url, int redirectsLeft) {
  QNetworkRequest req(url);
  req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
  req.setRawHeader("User-Agent", "attnx/" ATTNX_VERSION);
  if (resumeOffset_ > 0) req.setRawHeader("Range", "bytes=" + QByteArray::number(resumeOffset_) + "-");
  responseAccepted_ = false;
  httpError_.clear();
  reply_ = network_->get(req);
  reply_->setProperty("redirectsLeft", redirectsLeft);
  // Signals of an older reply (queued before it was replaced) must not touch the current file.
  QNetworkReply* reply = reply_;
  connect(reply, &QNetworkReply::metaDataChanged, this, [this, reply] { if (reply == reply_) onMetaDataChanged(); });
  connect(reply, &QNetworkReply::readyRead, this, [this, reply] { if (reply == reply_) onReadyRead(); });
  connect(reply, &QNetworkReply::finished, this, [this, reply] { if (reply == reply_) onFinished(); });
}

void ModelDownloader::onMetaDataChanged() {
  const int status = reply_->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (status >= 300 && status < 400) {
    // The hub's redirect for LFS files names the content's size and sha256.
    if (reply_->hasRawHeader("X-Linked-Size")) expectedSize_ = reply_->rawHeader("X-Linked-Size").toLongLong();
    const QString sha = sha256FromEtag(reply_->rawHeader("X-Linked-Etag"));
    if (!sha.isEmpty()) expectedSha256_ = sha;
    return;
  }
  if (status == 200) {
    if (resumeOffset_ > 0) {  // the server ignored Range: start this file again
      part_.resize(0);
      part_.seek(0);
      resumeOffset_ = 0;
    }
    const qint64 length = reply_->header(QNetworkRequest::ContentLengthHeader).toLongLong();
    if (expectedSize_ < 0 && length > 0) expectedSize_ = length;
  } else if (status == 206) {
    // Content-Range: bytes <first>-<last>/<total>
    static const QRegularExpression range(QStringLiteral("bytes\\s+(\\d+)-(\\d+)/(\\d+|\\*)"));
    const auto m = range.match(QString::fromLatin1(reply_->rawHeader("Content-Range")));
    if (!m.hasMatch() || m.captured(1).toLongLong() != resumeOffset_) {
      fail(tr("%1: the server resumed at the wrong offset. Delete %2 and download again.")
               .arg(model_.files[fileIndex_], part_.fileName()));
      return;
    }
    if (m.captured(3) != QLatin1String("*") && expectedSize_ < 0) expectedSize_ = m.captured(3).toLongLong();
  } else if (status == 416 && resumeOffset_ > 0) {
    return;  // the .part file already holds every byte: onFinished verifies it
  } else if (status != 0) {
    // Reported when the reply finishes (aborting it here would make Qt report its error twice).
    httpError_ = tr("%1: the server answered HTTP %2 (%3). Check the model name and your connection.")
                     .arg(reply_->url().toString())
                     .arg(status)
                     .arg(reply_->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString());
    return;
  }
  if (expectedSha256_.isEmpty()) expectedSha256_ = sha256FromEtag(reply_->rawHeader("ETag"));
  responseAccepted_ = true;
}

void ModelDownloader::onReadyRead() {
  if (!reply_ || !responseAccepted_ || !reply_->isOpen()) return;
  const QByteArray chunk = reply_->readAll();
  if (part_.write(chunk) != chunk.size()) {
    fail(tr("Cannot write %1: %2 (is the disk full?)").arg(part_.fileName(), part_.errorString()));
    return;
  }
  Q_EMIT progress(model_.files[fileIndex_], part_.size(), expectedSize_, fileIndex_, int(model_.files.size()));
}

void ModelDownloader::onFinished() {
  QNetworkReply* reply = reply_;
  if (!reply) return;
  reply->deleteLater();
  onReadyRead();
  reply_ = nullptr;
  const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  if (cancelled_) {
    part_.flush();
    Q_EMIT finished(false, tr("cancelled"));
    return;
  }
  if (!httpError_.isEmpty()) {
    fail(httpError_);
    return;
  }
  if (reply->error() != QNetworkReply::NoError && !(status == 416 && resumeOffset_ > 0)) {
    part_.flush();
    fail(tr("%1: %2 after %3 of %4. Start the download again to resume where it stopped.")
             .arg(model_.files[fileIndex_], reply->errorString(), humanBytes(part_.size()), humanBytes(expectedSize_)));
    return;
  }
  if (status >= 300 && status < 400) {
    const int left = reply->property("redirectsLeft").toInt();
    const QUrl target = reply->url().resolved(reply->attribute(QNetworkRequest::RedirectionTargetAttribute).toUrl());
    if (left <= 0 || !target.isValid()) {
      fail(tr("%1: too many redirects.").arg(model_.files[fileIndex_]));
      return;
    }
    request(target, left - 1);
    return;
  }
  if (!responseAccepted_ && status != 416) return;  // fail() already reported
  if (!verifyAndPlace()) return;
  ++fileIndex_;
  startFile();
}

bool ModelDownloader::verifyAndPlace() {
  part_.flush();
  const QString name = model_.files[fileIndex_];
  if (expectedSize_ >= 0 && part_.size() != expectedSize_) {
    fail(tr("%1: got %2 bytes, expected %3. Start the download again to resume.")
             .arg(name).arg(part_.size()).arg(expectedSize_));
    return false;
  }
  if (!expectedSha256_.isEmpty()) {
    part_.seek(0);
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&part_);
    const QString got = QString::fromLatin1(hash.result().toHex());
    if (got != expectedSha256_) {
      part_.close();
      part_.remove();
      fail(tr("%1: sha256 %2 does not match the hub's %3; the damaged file was deleted. Download again.")
               .arg(name, got, expectedSha256_));
      return false;
    }
  }
  part_.close();
  const QString finalPath = QDir(destDir_).filePath(name);
  QFile::remove(finalPath);
  if (!QFile::rename(part_.fileName(), finalPath)) {
    fail(tr("Cannot rename %1 to %2.").arg(part_.fileName(), finalPath));
    return false;
  }
  return true;
}

void ModelDownloader::fail(const QString& message) {
  if (reply_) {
    QNetworkReply* reply = reply_;
    reply_ = nullptr;
    reply->disconnect(this);
    reply->abort();
    reply->deleteLater();
  }
  part_.close();
  Q_EMIT finished(false, message);
}

}  // namespace attnx::ui
