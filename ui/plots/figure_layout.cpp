#include "ui/plots/figure_layout.h"

#include <QPicture>
#include <cmath>

namespace attnx::ui {
namespace {

const char* kTitle = "attnxPlotTitle";
const char* kSubtitle = "attnxPlotSubtitle";
const char* kTitleRow = "attnxPlotTitleRow";
const char* kCsvName = "attnxCsvSeriesName";

template <typename T>
T* findElement(const QCustomPlot* plot, const char* name) {
  for (QCPLayoutElement* e : plot->plotLayout()->elements(true))
    if (auto* t = qobject_cast<T*>(e); t && t->objectName() == QLatin1String(name)) return t;
  return nullptr;
}

bool sameCurve(const QCPGraph* a, const QCPGraph* b) {
  if (a->dataCount() == 0 || a->dataCount() != b->dataCount()) return false;
  for (int i = 0; i < a->dataCount(); ++i) {
    const auto pa = a->data()->at(i), pb = b->data()->at(i);
    if (pa->key != pb->key) return false;
    if (std::fabs(pa->value - pb->value) > 1e-9 * std::max(std::fabs(pa->value), std::fabs(pb->value))) return false;
  }
  return true;
}

}  // namespace

void setPlotTitle(QCustomPlot* plot, const QString& title, const QString& subtitle) {
  auto* row = findElement<QCPLayoutGrid>(plot, kTitleRow);
  if (!row) {
    row = new QCPLayoutGrid;
    row->setObjectName(QLatin1String(kTitleRow));
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, row);
    plot->plotLayout()->setRowStretchFactor(0, 0.001);  // as tall as its text, no more
    auto* text = new QCPTextElement(plot, title, QFont(plot->font().family(), 11, QFont::Bold));
    text->setObjectName(QLatin1String(kTitle));
    row->addElement(0, 0, text);
  }
  findElement<QCPTextElement>(plot, kTitle)->setText(title);
  auto* sub = findElement<QCPTextElement>(plot, kSubtitle);
  if (subtitle.isEmpty() && sub) {
    row->remove(sub);
    row->simplify();
  } else if (!subtitle.isEmpty()) {
    if (!sub) {
      sub = new QCPTextElement(plot, subtitle, QFont(plot->font().family(), 8));
      sub->setObjectName(QLatin1String(kSubtitle));
      sub->setTextColor(QColor(70, 70, 70));
      row->addElement(1, 0, sub);
    }
    sub->setText(subtitle);
  }
}

QString plotTitle(const QCustomPlot* plot) {
  if (const auto* t = findElement<QCPTextElement>(plot, kTitle)) return t->text();
  for (QCPLayoutElement* e : plot->plotLayout()->elements(true))
    if (auto* t = qobject_cast<QCPTextElement*>(e)) return t->text();
  return {};
}

QString plotSubtitle(const QCustomPlot* plot) {
  const auto* t = findElement<QCPTextElement>(plot, kSubtitle);
  return t ? t->text() : QString();
}

void placeLegendBelow(QCustomPlot* plot, int columns) {
  QCPLegend* legend = plot->legend;
  if (legend->layout() != plot->plotLayout()) {
    if (auto* inset = plot->axisRect()->insetLayout(); inset->elements(false).contains(legend)) inset->take(legend);
    const int row = plot->plotLayout()->rowCount();
    plot->plotLayout()->addElement(row, 0, legend);
    plot->plotLayout()->setRowStretchFactor(row, 0.001);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setMargins(QMargins(6, 0, 6, 2));
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  }
  legend->setWrap(std::max(1, columns));
  legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, /*rearrange=*/true);
}

void setCsvSeriesName(QCPAbstractPlottable* plottable, const QString& name) { plottable->setProperty(kCsvName, name); }

QString csvSeriesName(const QCPAbstractPlottable* plottable) {
  const QVariant v = plottable->property(kCsvName);
  return v.isValid() ? v.toString() : plottable->name();
}

void applyDistinctStyle(QCPGraph* graph, int index, const QColor& colour) {
  static const Qt::PenStyle dashes[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};
  static const QCPScatterStyle::ScatterShape shapes[] = {
      QCPScatterStyle::ssCircle,  QCPScatterStyle::ssSquare, QCPScatterStyle::ssTriangle, QCPScatterStyle::ssDiamond,
      QCPScatterStyle::ssTriangleInverted, QCPScatterStyle::ssCross, QCPScatterStyle::ssPlus, QCPScatterStyle::ssStar};
  const int i = std::max(0, index);
  // Later series are drawn on top: thinner lines and smaller hollow markers leave the earlier ones visible.
  const double width = std::max(1.0, 3.0 - 0.5 * i), size = std::max(5.0, 11.0 - 1.5 * i);
  QPen pen(colour, width, dashes[i % 5]);
  pen.setCapStyle(Qt::FlatCap);
  graph->setPen(pen);
  graph->setScatterStyle(QCPScatterStyle(shapes[i % 8], QPen(colour, std::max(1.0, width * 0.75)),
                                         i == 0 ? QBrush(colour) : QBrush(Qt::NoBrush), size));
}

void markCoincidentSeries(const QVector<QCPGraph*>& graphs, const QStringList& names) {
  for (int i = 0; i < graphs.size() && i < names.size(); ++i) {
    QString name = names[i];
    for (int j = 0; j < i; ++j)
      if (graphs[j]->visible() && graphs[i]->visible() && sameCurve(graphs[j], graphs[i])) {
        name = QObject::tr("%1 (same as %2)").arg(names[i], names[j]);
        break;
      }
    if (graphs[i]->name() != name) graphs[i]->setName(name);
  }
}

void markCoincidentSeries(QCustomPlot* plot) {
  QVector<QCPGraph*> graphs;
  QStringList names;
  for (int i = 0; i < plot->graphCount(); ++i) {
    QCPGraph* g = plot->graph(i);
    setCsvSeriesName(g, csvSeriesName(g));
    graphs << g;
    names << csvSeriesName(g);
  }
  markCoincidentSeries(graphs, names);
}

void paintPlot(QCustomPlot* plot, QPainter& painter, const QSize& size) {
  // Lay the plot out at the figure's size once before drawing: plots whose ticks depend on their
  // size set them after a layout, and QCustomPlot reads ticks before laying out.
  {
    QPicture scratch;
    QCPPainter layoutPass(&scratch);
    plot->toPainter(&layoutPass, size.width(), size.height());
  }
  // Recorded as vector commands and replayed into the caller's painter, whatever its device.
  QPicture picture;
  {
    QCPPainter recorder(&picture);
    recorder.setMode(QCPPainter::pmVectorized);
    recorder.setMode(QCPPainter::pmNoCaching);
    recorder.setRenderHint(QPainter::Antialiasing);
    plot->toPainter(&recorder, size.width(), size.height());
  }
  painter.drawPicture(0, 0, picture);
}

}  // namespace attnx::ui
