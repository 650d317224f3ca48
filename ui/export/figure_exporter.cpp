#include "ui/export/figure_exporter.h"

#include <QApplication>
#include <QBuffer>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QImageWriter>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPainter>
#include <QPdfWriter>
#include <QPicture>
#include <QSvgGenerator>
#include <cmath>
#include "ui/plots/qcp.h"

#include "core/io/atomic_file.h"
#include "ui/export/export_renderable.h"
#include "ui/export/figure_registry.h"
#include "ui/plots/figure_layout.h"

namespace attnx::ui {

namespace {

// The logical (96-dpi) size the figure is laid out at, so that text keeps its size relative to the page.
QSize logicalSize(const ExportOptions& o) {
  const double s = o.dpi / 96.0;
  return QSize(std::max(1, static_cast<int>(std::lround(o.pixels.width() / s))),
               std::max(1, static_cast<int>(std::lround(o.pixels.height() / s))));
}

// Draws the figure laid out at the logical size, scaled to fill the painter's device. Every device
// is set up to report 96 dpi while painting, so point-sized fonts get their screen pixel size in
// logical coordinates and grow with the scale, never twice.
void paintFigure(QWidget* figure, QPainter* painter, const ExportOptions& o, bool vector) {
  const QSize logical = logicalSize(o);
  const QPaintDevice* device = painter->device();
  painter->save();
  painter->scale(double(device->width()) / logical.width(), double(device->height()) / logical.height());
  if (const auto* renderable = dynamic_cast<const ExportRenderable*>(figure)) {
    // The figure draws itself as a reader should see it (title, scale, caption), not as the screen shows it.
    painter->fillRect(QRect(QPoint(0, 0), logical), Qt::white);
    renderable->renderForExport(*painter, logical);
  } else if (auto* plot = qobject_cast<QCustomPlot*>(figure)) {
    // Lay the plot out at the figure's size once before drawing: plots whose ticks depend on their
    // size (a heatmap's token labels, thinned to fit) set them after a layout, and QCustomPlot
    // reads ticks before laying out, so one pass would draw the ticks of the on-screen size.
    {
      QPicture scratch;
      QCPPainter layoutPass(&scratch);
      plot->toPainter(&layoutPass, logical.width(), logical.height());
    }
    auto* qcp = static_cast<QCPPainter*>(painter);
    if (vector) qcp->setMode(QCPPainter::pmVectorized);
    qcp->setMode(QCPPainter::pmNoCaching);
    plot->toPainter(qcp, logical.width(), logical.height());
  } else {
    // A widget draws itself at its own size: lay it out at its preferred size (a scrolled widget shows
    // only part of itself on screen), scale that uniformly into the figure and centre it.
    const QSize old = figure->size();
    const QSize own = figure->sizeHint().isValid() ? figure->sizeHint().expandedTo(QSize(1, 1)) : old;
    figure->resize(own);
    const double s = std::min(double(logical.width()) / own.width(), double(logical.height()) / own.height());
    painter->fillRect(QRect(QPoint(0, 0), logical), Qt::white);
    painter->translate((logical.width() - own.width() * s) / 2, (logical.height() - own.height() * s) / 2);
    painter->scale(s, s);
    figure->render(painter, QPoint(), QRegion(), QWidget::DrawChildren);
    figure->resize(old);
  }
  painter->restore();
}

bool validOptions(const ExportOptions& o, QString* error) {
  if (o.pixels.width() < 16 || o.pixels.height() < 16 || o.pixels.width() > 20000 || o.pixels.height() > 20000) {
    if (error) *error = QObject::tr("figure size %1 x %2 px is outside 16..20000").arg(o.pixels.width()).arg(o.pixels.height());
    return false;
  }
  if (!(o.dpi >= 24 && o.dpi <= 2400)) {
    if (error) *error = QObject::tr("resolution %1 dpi is outside 24..2400").arg(o.dpi);
    return false;
  }
  return true;
}

QString writeBytes(const QString& path, const QByteArray& bytes) {
  try {
    writeFileAtomically(QFile::encodeName(path).toStdString(), std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())));
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  return {};
}

QImage renderImage(QWidget* figure, const ExportOptions& o) {
  QImage image(o.pixels, QImage::Format_ARGB32);
  image.fill(Qt::white);
  const int screenDpm = static_cast<int>(std::lround(96 / 0.0254));
  image.setDotsPerMeterX(screenDpm);
  image.setDotsPerMeterY(screenDpm);
  QCPPainter painter(&image);
  painter.setRenderHint(QPainter::Antialiasing);
  painter.setRenderHint(QPainter::TextAntialiasing);
  paintFigure(figure, &painter, o, false);
  painter.end();
  // The chosen resolution is metadata of the file; set only after painting (see paintFigure).
  const int dpm = static_cast<int>(std::lround(o.dpi / 0.0254));
  image.setDotsPerMeterX(dpm);
  image.setDotsPerMeterY(dpm);
  return image;
}

void setupPdf(QPdfWriter& writer, const ExportOptions& o, const QString& title) {
  writer.setResolution(96);  // device units are then logical pixels; the page size carries the dpi
  writer.setPageMargins(QMarginsF(0, 0, 0, 0));
  writer.setPageSize(QPageSize(QSizeF(o.pixels.width() * 72.0 / o.dpi, o.pixels.height() * 72.0 / o.dpi), QPageSize::Point,
                               QString(), QPageSize::ExactMatch));
  writer.setTitle(title);
  writer.setCreator(QStringLiteral("attnx"));
}

}  // namespace

QString extensionOf(FigureFormat format) {
  switch (format) {
    case FigureFormat::Png: return QStringLiteral("png");
    case FigureFormat::Pdf: return QStringLiteral("pdf");
    case FigureFormat::Svg: return QStringLiteral("svg");
  }
  return {};
}

bool formatOfPath(const QString& path, FigureFormat* format) {
  const QString ext = QFileInfo(path).suffix().toLower();
  for (auto f : {FigureFormat::Png, FigureFormat::Pdf, FigureFormat::Svg})
    if (ext == extensionOf(f)) {
      *format = f;
      return true;
    }
  return false;
}

ExportOptions defaultExportOptions(QWidget* figure) {
  ExportOptions o;
  if (const auto* renderable = dynamic_cast<const ExportRenderable*>(figure)) {
    const QSize own = renderable->exportSize();
    if (own.width() >= 16 && own.height() >= 16) o.pixels = own.boundedTo(QSize(20000, 20000));
  }
  return o;
}

QString drawnTitle(QWidget* figure) {
  if (!figure) return {};
  if (const auto* renderable = dynamic_cast<const ExportRenderable*>(figure)) return renderable->exportTitle();
  if (const auto* plot = qobject_cast<const QCustomPlot*>(figure)) return plotTitle(plot);
  return figure->windowTitle();
}

QByteArray renderFigure(QWidget* figure, FigureFormat format, const ExportOptions& o, QString* error) {
  if (!figure) {
    if (error) *error = QObject::tr("the figure no longer exists");
    return {};
  }
  if (!validOptions(o, error)) return {};
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  const QString title = drawnTitle(figure).isEmpty() ? figure->objectName() : drawnTitle(figure);
  switch (format) {
    case FigureFormat::Png: {
      QImageWriter writer(&buffer, "png");
      if (!writer.write(renderImage(figure, o))) {
        if (error) *error = writer.errorString();
        return {};
      }
      break;
    }
    case FigureFormat::Pdf: {
      QPdfWriter writer(&buffer);
      setupPdf(writer, o, title);
      QCPPainter painter(&writer);
      paintFigure(figure, &painter, o, true);
      painter.end();
      break;
    }
    case FigureFormat::Svg: {
      QSvgGenerator gen;
      gen.setOutputDevice(&buffer);
      gen.setSize(o.pixels);
      gen.setViewBox(QRect(QPoint(0, 0), o.pixels));
      gen.setResolution(96);
      gen.setTitle(title);
      gen.setDescription(QStringLiteral("attnx figure"));
      QCPPainter painter(&gen);
      paintFigure(figure, &painter, o, true);
      painter.end();
      break;
    }
  }
  if (bytes.isEmpty() && error) *error = QObject::tr("nothing was rendered");
  return bytes;
}

QString exportFigure(QWidget* figure, const QString& path, FigureFormat format, const ExportOptions& options) {
  QString error;
  const QByteArray bytes = renderFigure(figure, format, options, &error);
  if (bytes.isEmpty()) return QObject::tr("%1: %2").arg(path, error);
  return writeBytes(path, bytes);
}

QByteArray visibleCsv(QCustomPlot* plot) {
  QByteArray csv = "series,x,y\n";
  if (!plot) return csv;
  for (int i = 0; i < plot->graphCount(); ++i) {
    QCPGraph* g = plot->graph(i);
    if (!g->visible()) continue;  // a series the user switched off is not in the view
    const QCPRange visible = g->keyAxis()->range();
    QString name = csvSeriesName(g);
    name.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    for (auto it = g->data()->findBegin(visible.lower, false); it != g->data()->constEnd() && it->key <= visible.upper; ++it) {
      if (it->key < visible.lower) continue;
      csv += QStringLiteral("\"%1\",%2,%3\n").arg(name).arg(it->key, 0, 'g', 17).arg(it->value, 0, 'g', 17).toUtf8();
    }
  }
  return csv;
}

QString exportVisibleCsv(QCustomPlot* plot, const QString& path) {
  if (!plot) return QObject::tr("%1: the plot no longer exists").arg(path);
  return writeBytes(path, visibleCsv(plot));
}

QString exportAllFigures(const FigureRegistry& registry, const QString& folder, const ExportOptions& options,
                         const QJsonObject& context, QStringList* written) {
  QString error;
  if (!validOptions(options, &error)) return error;
  if (!QDir().mkpath(folder)) return QObject::tr("%1: cannot create the folder").arg(folder);
  const QDir dir(folder);
  QJsonArray figures;
  const auto entries = registry.entries();
  if (entries.isEmpty()) return QObject::tr("there are no figures to export");
  auto note = [&](const QString& file) {
    if (written) *written << dir.filePath(file);
  };
  for (const auto& e : entries) {
    QJsonArray files;
    for (auto f : {FigureFormat::Png, FigureFormat::Pdf, FigureFormat::Svg}) {
      const QString file = e.id + QLatin1Char('.') + extensionOf(f);
      const QString problem = exportFigure(e.widget, dir.filePath(file), f, options);
      if (!problem.isEmpty()) return problem;
      files.append(file);
      note(file);
    }
    if (auto* plot = qobject_cast<QCustomPlot*>(e.widget.data()); plot && plot->graphCount() > 0) {
      const QString file = e.id + QStringLiteral(".csv");
      const QString problem = exportVisibleCsv(plot, dir.filePath(file));
      if (!problem.isEmpty()) return problem;
      files.append(file);
      note(file);
    }
    // The title as drawn on the figure now (it may name the filter or the head shown), then the
    // figure's own context (prompt, layer, head), never overriding the fixed keys.
    const QString drawn = drawnTitle(e.widget);
    QJsonObject entry{{QStringLiteral("id"), e.id},
                      {QStringLiteral("title"), drawn.isEmpty() ? e.title : drawn},
                      {QStringLiteral("menu_title"), e.title},
                      {QStringLiteral("what"), e.what},
                      {QStringLiteral("files"), files}};
    if (e.context) {
      const QJsonObject own = e.context();
      for (auto it = own.begin(); it != own.end(); ++it)
        if (!entry.contains(it.key())) entry.insert(it.key(), it.value());
    }
    figures.append(entry);
  }
  // Every figure again in one PDF, a page each, for reading or printing them together.
  {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QPdfWriter writer(&buffer);
    setupPdf(writer, options, QStringLiteral("attnx figures"));
    QCPPainter painter(&writer);
    for (int i = 0; i < entries.size(); ++i) {
      if (i > 0) writer.newPage();
      paintFigure(entries[i].widget, &painter, options, true);
    }
    painter.end();
    const QString problem = writeBytes(dir.filePath(QStringLiteral("all-figures.pdf")), bytes);
    if (!problem.isEmpty()) return problem;
    note(QStringLiteral("all-figures.pdf"));
  }
  const QJsonObject index{{QStringLiteral("format"), QStringLiteral("attnx-figures")},
                          {QStringLiteral("version"), 1},
                          {QStringLiteral("created"), QDateTime::currentDateTimeUtc().toString(Qt::ISODate)},
                          {QStringLiteral("context"), context},
                          {QStringLiteral("options"), QJsonObject{{QStringLiteral("width"), options.pixels.width()},
                                                                   {QStringLiteral("height"), options.pixels.height()},
                                                                   {QStringLiteral("dpi"), options.dpi}}},
                          {QStringLiteral("all_figures_pdf"), QStringLiteral("all-figures.pdf")},
                          {QStringLiteral("figures"), figures}};
  const QString problem = writeBytes(dir.filePath(QStringLiteral("index.json")), QJsonDocument(index).toJson());
  if (!problem.isEmpty()) return problem;
  note(QStringLiteral("index.json"));
  return {};
}

void copyFigureToClipboard(QWidget* figure, const ExportOptions& options) {
  if (!figure || !QApplication::clipboard()) return;
  QApplication::clipboard()->setImage(renderImage(figure, options));
}

}  // namespace attnx::ui
