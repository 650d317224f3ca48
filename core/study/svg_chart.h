// Small SVG figures for report.html: scatter/line charts with error bars, log axes and a legend beside
// the plot (never over the data), and heatmaps. Plain text out, no dependency: the report must render in
// any browser and re-render on a server without Qt. Torch-free.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace attnx::svg {

struct Series {
  std::string name;     // legend entry ("" = not in the legend)
  std::string color;    // CSS colour
  std::vector<double> x, y;
  std::vector<double> yError;        // empty, or one ± value per point (drawn as a bar)
  std::vector<std::string> tooltips; // empty, or one per point (<title>)
  bool line = true;                  // join the points in x order
  bool markers = true;
  bool dashed = false;
  double width = 1.8;                // line width
  char marker = 'o';                 // 'o' circle, 's' square, 'd' diamond, 't' triangle
};

struct ChartOptions {
  std::string title, xLabel, yLabel;
  bool logX = false, logY = false;
  int width = 720, height = 420;     // the whole figure; the legend takes a column on the right
  // Optional fixed ranges (both ends set when first < second).
  std::pair<double, double> xRange{0, 0}, yRange{0, 0};
};

std::string chart(const ChartOptions& options, const std::vector<Series>& series);

// A matrix as coloured cells (rows top to bottom), values mapped through a perceptual ramp from
// `low` to `high` (log10 of the value when logScale); NaN cells grey. rowLabels / columnLabels may be
// empty. cellText: empty, or a text per cell drawn in it.
struct HeatmapOptions {
  std::string title;
  int cell = 8;                      // pixels per cell
  bool logScale = false;
  double low = 0, high = 1;
  std::vector<std::string> rowLabels, columnLabels;
  std::vector<std::vector<std::string>> cellText;
  std::string colorBarLabel;
};
std::string heatmap(const HeatmapOptions& options, const std::vector<std::vector<double>>& values);

// "&amp;" etc. for text in SVG and HTML.
std::string escape(const std::string& text);

// Nice tick positions for [lo, hi] (linear: 1-2-5 steps; log: powers of ten, with 2 and 5 when the
// range spans fewer than three decades), and their labels ("0.05", "1e-3"): exposed for tests.
std::vector<std::pair<double, std::string>> ticks(double lo, double hi, bool log);

}  // namespace attnx::svg
