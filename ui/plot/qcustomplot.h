// Include QCustomPlot through this header. Its header uses Qt's keyword macros (signals, slots,
// foreach), which attnx switches off project-wide (QT_NO_KEYWORDS: LibTorch uses those names), so
// they are defined here only while qcustomplot.h is read.
#pragma once

#include <QtGlobal>

#if defined(QT_NO_KEYWORDS)
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef foreach
#else
#include <qcustomplot.h>
#endif
