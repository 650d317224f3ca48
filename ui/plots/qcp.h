// QCustomPlot for a build with QT_NO_KEYWORDS: its header uses the `signals` and `foreach`
// keywords, so they are mapped to the Q_ macros for the length of the include only. Include this
// instead of <qcustomplot.h> everywhere in attnx.
#pragma once

#if defined(QT_NO_KEYWORDS) && !defined(signals)
#define ATTNX_QCP_KEYWORDS
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#endif

#include <qcustomplot.h>

#ifdef ATTNX_QCP_KEYWORDS
#undef signals
#undef slots
#undef emit
#undef foreach
#undef ATTNX_QCP_KEYWORDS
#endif
