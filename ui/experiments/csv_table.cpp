#include "ui/experiments/csv_table.h"

#include <stdexcept>

namespace attnx::ui {
namespace {

[[noreturn]] void fail(const QString& origin, int line, const QString& what) {
  throw std::runtime_error(QStringLiteral("%1: line %2: %3").arg(origin).arg(line).arg(what).toStdString());
}

}  // namespace

CsvTable parseCsv(const QString& text, const QString& origin) {
  // Records, each a list of fields, with the line each started on (for messages).
  QVector<QStringList> records;
  QVector<int> startLines;
  QStringList fields;
  QString field;
  bool quoted = false, fieldStarted = false, recordStarted = false;
  int line = 1, recordLine = 1;
  auto endRecord = [&] {
    if (recordStarted) {
      fields << field;
      records << fields;
      startLines << recordLine;
    }
    fields.clear();
    field.clear();
    fieldStarted = recordStarted = false;
  };
  for (int i = 0; i < text.size(); ++i) {
    const QChar c = text[i];
    if (quoted) {
      if (c == QLatin1Char('"')) {
        if (i + 1 < text.size() && text[i + 1] == QLatin1Char('"')) {
          field += c;
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == QLatin1Char('\n')) ++line;
        field += c;
      }
      continue;
    }
    if (c == QLatin1Char('\r')) continue;
    if (c == QLatin1Char('\n')) {
      endRecord();
      ++line;
      continue;
    }
    if (!recordStarted) {
      recordStarted = true;
      recordLine = line;
    }
    if (c == QLatin1Char(',')) {
      fields << field;
      field.clear();
      fieldStarted = false;
    } else if (c == QLatin1Char('"') && !fieldStarted) {
      quoted = fieldStarted = true;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) fail(origin, recordLine, QStringLiteral("a quoted field is not closed"));
  endRecord();

  if (records.isEmpty())
    throw std::runtime_error(QStringLiteral("%1: empty (no header line)").arg(origin).toStdString());
  CsvTable table;
  table.header = records[0];
  for (int r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size())
      fail(origin, startLines[r],
           QStringLiteral("%1 fields, the header has %2").arg(records[r].size()).arg(table.header.size()));
    table.rows << records[r];
  }
  return table;
}

}  // namespace attnx::ui
