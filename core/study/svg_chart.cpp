// SVG charts and heatmaps; see svg_chart.h.
#include "core/study/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>
#include <tuple>

namespace attnx::svg {

namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  return b;
}

std::string label(double v) {
  if (v == 0) return "0";
  char b[32];
  const double a = std::abs(v);
  if (a >= 1e-3 && a < 1e5) {
    std::snprintf(b, sizeof b, "%.6g", v);
  } else {
    std::snprintf(b, sizeof b, "%.0e", v);
    // "1e-04" -> "1e-4"
    std::string s = b;
    auto e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e), exp = s.substr(e + 1);
      const bool neg = exp[0] == '-';
      exp = exp.substr(exp[0] == '-' || exp[0] == '+' ? 1 : 0);
      exp.erase(0, std::min(exp.find_first_not_of('0'), exp.size() - 1));
      return mant + "e" + (neg ? "-" : "") + exp;
    }
    return s;
  }
  return b;
}

// A perceptual ramp (viridis, 9 stops), t in [0, 1].
std::string ramp(double t) {
  static const int stops[9][3] = {{68, 1, 84},   {71, 44, 122}, {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                  {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37}};
  if (!std::isfinite(t)) return "#bbbbbb";
  t = std::clamp(t, 0.0, 1.0) * 8;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  char b[16];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", static_cast<int>(stops[i][0] + f * (stops[i + 1][0] - stops[i][0])),
                static_cast<int>(stops[i][1] + f * (stops[i + 1][1] - stops[i][1])),
                static_cast<int>(stops[i][2] + f * (stops[i + 1][2] - stops[i][2])));
  return b;
}

std::string markerShape(char m, double x, double y, const std::string& color, double r = 3.5) {
  std::ostringstream o;
  switch (m) {
    case 's':
      o << "<rect x='" << num(x - r) << "' y='" << num(y - r) << "' width='" << num(2 * r) << "' height='" << num(2 * r) << "'";
      break;
    case 'd':
      o << "<polygon points='" << num(x) << "," << num(y - r * 1.3) << " " << num(x + r * 1.3) << "," << num(y) << " " << num(x)
        << "," << num(y + r * 1.3) << " " << num(x - r * 1.3) << "," << num(y) << "'";
      break;
    case 't':
      o << "<polygon points='" << num(x) << "," << num(y - r * 1.3) << " " << num(x + r * 1.2) << "," << num(y + r) << " "
        << num(x - r * 1.2) << "," << num(y + r) << "'";
      break;
    default: o << "<circle cx='" << num(x) << "' cy='" << num(y) << "' r='" << num(r) << "'";
  }
  o << " fill='" << color << "' stroke='white' stroke-width='0.8'";
  return o.str();
}

}  // namespace

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::pair<double, std::string>> ticks(double lo, double hi, bool log) {
  std::vector<std::pair<double, std::string>> out;
  if (!(hi > lo)) return {{lo, label(lo)}};
  if (log) {
    const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9)), e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
    const bool fine = e1 - e0 <= 2;
    for (int e = e0; e <= e1; ++e)
      for (double m : fine ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
        const double v = m * std::pow(10.0, e);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.emplace_back(v, label(v));
      }
    if (out.size() >= 2) return out;
    // Less than a decade and no 1-2-5 value inside: nice linear steps read better than the two ends.
    out.clear();
  }
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag * 1.0000001) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.emplace_back(std::abs(v) < step * 1e-9 ? 0.0 : v, label(std::abs(v) < step * 1e-9 ? 0.0 : v));
  return out;
}

std::string chart(const ChartOptions& o, const std::vector<Series>& series) {
  // Data range over every point (and error bar), padded a little.
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double e = i < s.yError.size() ? s.yError[i] : 0;
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (o.logX && s.x[i] <= 0) continue;
      if (o.logY && s.y[i] - e <= 0 && s.y[i] <= 0) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, o.logY && s.y[i] - e <= 0 ? s.y[i] : s.y[i] - e);
      y1 = std::max(y1, s.y[i] + e);
    }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  auto pad = [](double& a, double& b, bool log) {
    if (log) {
      const double la = std::log10(a), lb = std::log10(b), p = std::max(0.05, (lb - la) * 0.06);
      a = std::pow(10.0, la - p);
      b = std::pow(10.0, lb + p);
    } else {
      const double p = b > a ? (b - a) * 0.06 : std::max(1e-9, std::abs(a) * 0.1);
      a -= p;
      b += p;
    }
  };
  pad(x0, x1, o.logX);
  pad(y0, y1, o.logY);
  if (o.xRange.first < o.xRange.second) std::tie(x0, x1) = o.xRange;
  if (o.yRange.first < o.yRange.second) std::tie(y0, y1) = o.yRange;

  std::vector<const Series*> named;
  for (const auto& s : series)
    if (!s.name.empty()) named.push_back(&s);
  size_t longest = 0;
  for (const auto* s : named) longest = std::max(longest, s->name.size());
  const double legendW = named.empty() ? 0 : std::min(320.0, 40.0 + 7.0 * static_cast<double>(longest));
  const double left = 64, right = 16 + legendW, top = o.title.empty() ? 14 : 36, bottom = 50;
  const double W = o.width, H = o.height, pw = W - left - right, ph = H - top - bottom;
  auto sx = [&](double v) {
    return left + pw * (o.logX ? (std::log10(v) - std::log10(x0)) / (std::log10(x1) - std::log10(x0)) : (v - x0) / (x1 - x0));
  };
  auto sy = [&](double v) {
    return top + ph * (1 - (o.logY ? (std::log10(v) - std::log10(y0)) / (std::log10(y1) - std::log10(y0)) : (v - y0) / (y1 - y0)));
  };

  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' class='figure' width='" << o.width << "' height='" << o.height
    << "' viewBox='0 0 " << o.width << " " << o.height << "' font-family='sans-serif' font-size='12'>";
  s << "<rect width='100%' height='100%' fill='white'/>";
  if (!o.title.empty()) s << "<text x='" << num(left) << "' y='22' font-size='14' font-weight='bold'>" << escape(o.title) << "</text>";
  s << "<rect x='" << num(left) << "' y='" << num(top) << "' width='" << num(pw) << "' height='" << num(ph)
    << "' fill='none' stroke='#444'/>";
  for (const auto& [v, text] : ticks(x0, x1, o.logX)) {
    const double x = sx(v);
    s << "<line x1='" << num(x) << "' y1='" << num(top) << "' x2='" << num(x) << "' y2='" << num(top + ph)
      << "' stroke='#e4e4e4'/><text x='" << num(x) << "' y='" << num(top + ph + 16) << "' text-anchor='middle'>" << escape(text)
      << "</text>";
  }
  for (const auto& [v, text] : ticks(y0, y1, o.logY)) {
    const double y = sy(v);
    s << "<line x1='" << num(left) << "' y1='" << num(y) << "' x2='" << num(left + pw) << "' y2='" << num(y)
      << "' stroke='#e4e4e4'/><text x='" << num(left - 6) << "' y='" << num(y + 4) << "' text-anchor='end'>" << escape(text)
      << "</text>";
  }
  s << "<text x='" << num(left + pw / 2) << "' y='" << num(H - 10) << "' text-anchor='middle'>" << escape(o.xLabel) << "</text>";
  s << "<text transform='translate(14," << num(top + ph / 2) << ") rotate(-90)' text-anchor='middle'>" << escape(o.yLabel)
    << "</text>";
  s << "<svg x='" << num(left) << "' y='" << num(top) << "' width='" << num(pw) << "' height='" << num(ph) << "' viewBox='"
    << num(left) << " " << num(top) << " " << num(pw) << " " << num(ph) << "' overflow='hidden'>";
  for (const auto& se : series) {
    std::vector<size_t> order(se.x.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return se.x[a] < se.x[b]; });
    auto ok = [&](size_t i) {
      return std::isfinite(se.x[i]) && std::isfinite(se.y[i]) && (!o.logX || se.x[i] > 0) && (!o.logY || se.y[i] > 0);
    };
    if (se.line && se.x.size() > 1) {
      s << "<polyline fill='none' stroke='" << se.color << "' stroke-width='" << num(se.width) << "'"
        << (se.dashed ? " stroke-dasharray='5,4'" : "")
        << " points='";
      for (size_t i : order)
        if (ok(i)) s << num(sx(se.x[i])) << "," << num(sy(se.y[i])) << " ";
      s << "'/>";
    }
    for (size_t i : order) {
      if (!ok(i)) continue;
      const double x = sx(se.x[i]), y = sy(se.y[i]);
      if (i < se.yError.size() && se.yError[i] > 0) {
        const double lo = o.logY ? std::max(se.y[i] - se.yError[i], y0) : se.y[i] - se.yError[i];
        s << "<line x1='" << num(x) << "' y1='" << num(sy(lo)) << "' x2='" << num(x) << "' y2='" << num(sy(se.y[i] + se.yError[i]))
          << "' stroke='" << se.color << "' stroke-width='1.2'/>";
      }
      if (se.markers) {
        s << markerShape(se.marker, x, y, se.color);
        if (i < se.tooltips.size()) s << "><title>" << escape(se.tooltips[i]) << "</title></" << (se.marker == 'o' ? "circle" : se.marker == 's' ? "rect" : "polygon") << ">";
        else s << "/>";
      }
    }
  }
  s << "</svg>";
  // Legend: a column right of the plot.
  double ly = top + 8;
  for (const auto* se : named) {
    const double lx = left + pw + 14;
    s << "<line x1='" << num(lx) << "' y1='" << num(ly) << "' x2='" << num(lx + 20) << "' y2='" << num(ly) << "' stroke='"
      << se->color << "' stroke-width='" << num(se->width) << "'" << (se->dashed ? " stroke-dasharray='5,4'" : "")
      << (se->line ? "" : " stroke-opacity='0'") << "/>";
    if (se->markers) s << markerShape(se->marker, lx + 10, ly, se->color) << "/>";
    s << "<text x='" << num(lx + 26) << "' y='" << num(ly + 4) << "'>" << escape(se->name) << "</text>";
    ly += 18;
  }
  s << "</svg>";
  return s.str();
}

std::string heatmap(const HeatmapOptions& o, const std::vector<std::vector<double>>& values) {
  const size_t rows = values.size(), cols = rows ? values[0].size() : 0;
  size_t rowLabel = 0;
  for (const auto& l : o.rowLabels) rowLabel = std::max(rowLabel, l.size());
  const double left = 8 + 6.5 * static_cast<double>(rowLabel), top = o.title.empty() ? 8 : 30;
  const double colLabelH = o.columnLabels.empty() ? 0 : 16;
  const double W = left + o.cell * static_cast<double>(cols) + 90, H = top + o.cell * static_cast<double>(rows) + colLabelH + 10;
  auto t = [&](double v) {
    if (o.logScale) return (std::log10(std::max(v, 1e-30)) - std::log10(o.low)) / (std::log10(o.high) - std::log10(o.low));
    return (v - o.low) / (o.high - o.low);
  };
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' class='figure' width='" << num(W) << "' height='" << num(H) << "' viewBox='0 0 "
    << num(W) << " " << num(H) << "' font-family='sans-serif' font-size='11'>";
  s << "<rect width='100%' height='100%' fill='white'/>";
  if (!o.title.empty()) s << "<text x='4' y='18' font-size='13' font-weight='bold'>" << escape(o.title) << "</text>";
  for (size_t r = 0; r < rows; ++r) {
    if (r < o.rowLabels.size())
      s << "<text x='" << num(left - 4) << "' y='" << num(top + o.cell * (r + 0.5) + 4) << "' text-anchor='end'>"
        << escape(o.rowLabels[r]) << "</text>";
    for (size_t c = 0; c < cols; ++c) {
      const double v = values[r][c];
      const double x = left + o.cell * static_cast<double>(c), y = top + o.cell * static_cast<double>(r);
      s << "<rect x='" << num(x) << "' y='" << num(y) << "' width='" << o.cell << "' height='" << o.cell << "' fill='"
        << ramp(std::isfinite(v) ? t(v) : NAN) << "'><title>" << escape(label(v)) << "</title></rect>";
      if (r < o.cellText.size() && c < o.cellText[r].size() && !o.cellText[r][c].empty())
        s << "<text x='" << num(x + o.cell / 2.0) << "' y='" << num(y + o.cell / 2.0 + 4) << "' text-anchor='middle' fill='"
          << (t(v) > 0.6 ? "black" : "white") << "' font-size='" << std::max(8, o.cell / 4) << "'>" << escape(o.cellText[r][c])
          << "</text>";
    }
  }
  for (size_t c = 0; c < o.columnLabels.size() && c < cols; ++c)
    s << "<text x='" << num(left + o.cell * (c + 0.5)) << "' y='" << num(top + o.cell * rows + 13) << "' text-anchor='middle'>"
      << escape(o.columnLabels[c]) << "</text>";
  // Colour bar with its two ends labelled.
  const double bx = left + o.cell * static_cast<double>(cols) + 14, bh = std::max(40.0, o.cell * static_cast<double>(rows));
  for (int i = 0; i < 32; ++i)
    s << "<rect x='" << num(bx) << "' y='" << num(top + bh * (31 - i) / 32.0) << "' width='12' height='" << num(bh / 32.0 + 0.5)
      << "' fill='" << ramp(i / 31.0) << "'/>";
  s << "<text x='" << num(bx + 16) << "' y='" << num(top + 8) << "'>" << escape(label(o.high)) << "</text>";
  s << "<text x='" << num(bx + 16) << "' y='" << num(top + bh) << "'>" << escape(label(o.low)) << "</text>";
  if (!o.colorBarLabel.empty())
    s << "<text x='" << num(bx + 16) << "' y='" << num(top + bh / 2 + 4) << "'>" << escape(o.colorBarLabel) << "</text>";
  s << "</svg>";
  return s.str();
}

}  // namespace attnx::svg
