// A small RFC 4180 reader for the CSV files attnx writes with quoted fields (study.csv quotes a
// field holding a comma or a quote). metrics.csv has its own stricter reader (ui/training/run_reader.h).
#pragma once

#include <QString>
#include <QStringList>
#include <QVector>

namespace attnx::ui {

struct CsvTable {
  QStringList header;
  QVector<QStringList> rows;  // each exactly header.size() fields
  int column(const QString& name) const { return static_cast<int>(header.indexOf(name)); }  // -1 when absent
};

// Parses header + rows. Throws std::runtime_error "<origin>: line L: ..." for an unterminated quote
// or a row whose field count is not the header's; "<origin>: empty" for no header.
CsvTable parseCsv(const QString& text, const QString& origin);

}  // namespace attnx::ui
