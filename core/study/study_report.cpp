// report.html of a study; see study_report.h. Everything is drawn from study.json (and the metrics.csv
// of the runs it names), so re-rendering recomputes nothing.
#include "core/study/study_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/study/study_config.h"
#include "core/study/study_results.h"
#include "core/study/svg_chart.h"

namespace attnx {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

const std::vector<std::string> kPalette = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                           "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string fixed(double v, int digits) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

std::string bytesText(double b) {
  const char* units[] = {"B", "KB", "MB", "GB"};
  int u = 0;
  while (b >= 1024 && u < 3) b /= 1024, ++u;
  return fixed(b, b < 10 ? 2 : 1) + " " + units[u];
}

struct Stat {
  double mean = 0, sd = 0;
  int count = 0;
};

Stat stat(const std::vector<double>& v) {
  Stat s;
  s.count = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / static_cast<double>(v.size() - 1));
  }
  return s;
}

// One point of a Pareto series: entries of one (family, variant, target) at one n, over seeds.
struct Point {
  std::string label;
  Stat density, kl, ppl, agreement;
  double teacherPpl = 0;
};

// Series key -> points, for the entries at length n. Fixed baselines (no target) are one point per
// variant; seeded ones are grouped over seeds.
std::map<std::string, std::vector<Point>> group(const json& doc, int64_t n) {
  std::set<std::string> learnedFamilies;
  for (const auto& e : doc["plans"])
    if (e.value("kind", "") == "learned") learnedFamilies.insert(e.value("family", ""));
  const bool oneLearned = learnedFamilies.size() <= 1;
  std::map<std::string, std::map<std::string, std::vector<const json*>>> bins;
  for (const auto& e : doc["plans"]) {
    if (e.value("n", int64_t{0}) != n) continue;
    const std::string series = e.value("kind", "") != "learned" ? e.value("family", "")
                               : oneLearned ? "learned: " + e.value("variant", "")
                                            : "learned " + e.value("family", "") + ": " + e.value("variant", "");
    const std::string point = e["target"].is_null() ? e.value("variant", "") : e["target"].dump();
    bins[series][point].push_back(&e);
  }
  std::map<std::string, std::vector<Point>> out;
  for (const auto& [series, points] : bins)
    for (const auto& [label, entries] : points) {
      std::vector<double> d, kl, ppl, agree;
      Point p;
      p.label = label;
      for (const auto* e : entries) {
        d.push_back((*e)["density"].get<double>());
        kl.push_back((*e)["kl_per_token"].get<double>());
        ppl.push_back((*e)["student_perplexity"].get<double>());
        agree.push_back((*e)["top1_agreement"].get<double>());
        p.teacherPpl = (*e)["teacher_perplexity"].get<double>();
      }
      p.density = stat(d);
      p.kl = stat(kl);
      p.ppl = stat(ppl);
      p.agreement = stat(agree);
      out[series].push_back(p);
    }
  return out;
}

bool isSoft(const std::string& series) { return series.size() >= 6 && series.compare(series.size() - 6, 6, ": soft") == 0; }

// How a series looks: the learned plans as the study means them (budget + fine-tune) in bold red, their
// ablations dashed, each kind of baseline in a colour of its own.
void styleSeries(svg::Series& s, const std::string& name, size_t index) {
  static const std::map<std::string, std::pair<std::string, char>> fixedStyles = {
      {"window-sinks", {"#1f77b4", 'o'}}, {"block-sinks", {"#9467bd", 's'}}, {"duo", {"#8c564b", 'd'}},
      {"random", {"#7f7f7f", 't'}}};
  const char markers[] = {'o', 's', 'd', 't'};
  s.color = kPalette[index % kPalette.size()];
  s.marker = markers[index % 4];
  for (const auto& [kind, style] : fixedStyles)
    if (name == kind || name.rfind(kind + " ", 0) == 0) std::tie(s.color, s.marker) = style;
  if (name.rfind("learned", 0) == 0) {
    const bool main = name.find("budget+finetune") != std::string::npos;
    s.dashed = !main;
    s.width = main ? 2.8 : 1.6;
    s.color = main ? "#d62728" : name.find("alpha-order") != std::string::npos ? "#2ca02c" : "#ff7f0e";
  }
}

std::string paretoFigure(const std::map<std::string, std::vector<Point>>& groups, bool perplexity, double teacherPpl,
                         int64_t n) {
  std::vector<svg::Series> series;
  size_t index = 0;
  double lowest = 1;
  for (const auto& [name, points] : groups) {
    if (isSoft(name)) continue;
    svg::Series s;
    s.name = name;
    styleSeries(s, name, index++);
    for (const auto& p : points) {
      s.x.push_back(p.density.mean);
      s.y.push_back(perplexity ? p.ppl.mean : p.kl.mean);
      s.yError.push_back(perplexity ? p.ppl.sd : p.kl.sd);
      s.tooltips.push_back(name + " " + p.label + ": density " + fixed(p.density.mean, 3) + ", KL " + fixed(p.kl.mean, 4) +
                           (p.kl.count > 1 ? " ± " + fixed(p.kl.sd, 4) + " (" + std::to_string(p.kl.count) + " seeds)" : "") +
                           ", perplexity " + fixed(p.ppl.mean, 1));
      lowest = std::min(lowest, p.density.mean);
    }
    series.push_back(std::move(s));
  }
  if (perplexity && teacherPpl > 0) {
    svg::Series t;
    t.name = "teacher (dense)";
    t.color = "#000000";
    t.dashed = true;
    t.markers = false;
    t.x = {lowest, 1.0};
    t.y = {teacherPpl, teacherPpl};
    series.push_back(t);
  }
  svg::ChartOptions o;
  o.title = perplexity ? "Density against perplexity, n = " + std::to_string(n)
                       : "Density against KL(teacher ‖ student), n = " + std::to_string(n);
  o.xLabel = "effective density (attended pairs / causal pairs, log scale)";
  o.yLabel = perplexity ? "student perplexity (held-out text, log scale)" : "KL per token, nats (log scale)";
  o.logX = true;
  o.logY = true;
  o.width = 960;
  o.height = 480;
  return svg::chart(o, series);
}

// metrics.csv of a run: per step, the KL and each mask's alpha averaged over layers and heads.
struct Curves {
  std::vector<double> steps, kl;
  std::map<std::string, std::vector<double>> alpha;  // mask -> mean alpha per step
};

Curves readCurves(const std::string& path) {
  Curves c;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return c;
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string f; std::getline(hs, f, ',');) header.push_back(f);
  std::vector<std::string> maskOf(header.size());
  std::map<std::string, int> columns;
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i].rfind("a.", 0) == 0) {
      const auto dot = header[i].find('.', header[i].find(".H") + 2);
      maskOf[i] = header[i].substr(dot + 1);
      ++columns[maskOf[i]];
    }
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    if (f.size() != header.size()) continue;
    c.steps.push_back(std::stod(f[0]));
    c.kl.push_back(std::stod(f[2]));
    std::map<std::string, double> sums;
    for (size_t i = 0; i < f.size(); ++i)
      if (!maskOf[i].empty()) sums[maskOf[i]] += std::stod(f[i]);
    for (const auto& [m, s] : sums) c.alpha[m].push_back(s / columns[m]);
  }
  return c;
}

std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  const std::string& cls = "") {
  std::ostringstream s;
  s << "<table" << (cls.empty() ? "" : " class='" + cls + "'") << "><thead><tr>";
  for (const auto& h : head) s << "<th>" << svg::escape(h) << "</th>";
  s << "</tr></thead><tbody>";
  for (const auto& r : rows) {
    s << "<tr>";
    for (const auto& c : r) s << "<td>" << c << "</td>";
    s << "</tr>";
  }
  s << "</tbody></table>";
  return s.str();
}

// Each learned plan (budget + fine-tune) beside the baselines that are at least as dense: the best fixed one
// (the same plan for every head: window or blocks + sinks) and the best of all, with the KL ratios.
std::string verdict(const std::map<std::string, std::vector<Point>>& groups) {
  struct Candidate {
    std::string name;
    const Point* point;
    bool fixed;
  };
  std::vector<Candidate> baselines;
  std::vector<std::pair<std::string, const Point*>> learned;
  for (const auto& [name, points] : groups)
    for (const auto& p : points) {
      if (name.rfind("learned", 0) == 0) {
        if (name.find("budget+finetune") != std::string::npos) learned.emplace_back(name, &p);
      } else {
        // Fixed plans are named by their variant ("window 64 + 4 sinks"), the others by kind and target.
        const bool byTarget = !p.label.empty() && (std::isdigit(static_cast<unsigned char>(p.label[0])) != 0);
        baselines.push_back({byTarget ? name + ", target " + p.label : p.label, &p, name == "window-sinks" || name == "block-sinks"});
      }
    }
  if (learned.empty() || baselines.empty()) return {};
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, p] : learned) {
    const Candidate *bestFixed = nullptr, *bestAny = nullptr;
    for (const auto& c : baselines) {
      if (c.point->density.mean < p->density.mean) continue;
      if (!bestAny || c.point->kl.mean < bestAny->point->kl.mean) bestAny = &c;
      if (c.fixed && (!bestFixed || c.point->kl.mean < bestFixed->point->kl.mean)) bestFixed = &c;
    }
    auto cell = [&](const Candidate* c) {
      if (!c) return std::string("none as dense");
      return svg::escape(c->name) + " (density " + fixed(c->point->density.mean, 3) + ", KL " + fixed(c->point->kl.mean, 4) +
             "): ratio " + fixed(p->kl.mean / c->point->kl.mean, 2);
    };
    rows.push_back({p->label, fixed(p->density.mean, 3), fixed(p->kl.mean, 4) + (p->kl.count > 1 ? " ± " + fixed(p->kl.sd, 4) : ""),
                    fixed(100 * (p->ppl.mean / p->teacherPpl - 1), 1) + "%", cell(bestFixed), cell(bestAny)});
  }
  return "<p>Each learned plan (budget + fine-tune, mean over seeds) beside the baselines of equal or higher density: "
         "the best fixed plan (one plan for every head) and the best baseline of any kind. A ratio below 1 means the "
         "learned plan is closer to the teacher.</p>" +
         table({"target", "density", "KL/token", "perplexity vs teacher", "best fixed baseline at ≥ density",
                "best baseline of any kind at ≥ density"},
               rows);
}

}  // namespace

std::string writeStudyReport(const std::string& outDir) {
  const auto results = StudyResults::read(outDir);
  const auto& doc = results.doc();
  const auto& config = doc.value("config", json::object());
  const auto& teacher = doc.value("teacher", json::object());
  const auto lengths = teacher.value("eval_lengths", std::vector<int64_t>{});
  if (lengths.empty()) throw StudyError(results.absolute("study.json") + ": field \"teacher.eval_lengths\" is missing");
  const int64_t nRef = lengths.front();
  const int64_t L = teacher.value("layers", int64_t{0}), H = teacher.value("heads", int64_t{0});

  std::ostringstream body;
  int figures = 0;
  // A figure in the page; one made of a single chart is also written as DIR/figures/<file>.svg, for
  // papers and for the README.
  const fs::path figureDir = results.dir() / "figures";
  fs::create_directories(figureDir);
  auto figure = [&](const std::string& svgText, const std::string& caption, const std::string& file = "") {
    ++figures;
    body << "<figure>" << svgText << "<figcaption>Figure " << figures << ". " << caption << "</figcaption></figure>\n";
    if (!file.empty())
      writeFileAtomically((figureDir / (file + ".svg")).string(), "<?xml version='1.0' encoding='UTF-8'?>\n" + svgText + "\n");
  };

  body << "<h1>" << svg::escape(config.value("name", std::string("attnx study"))) << "</h1>\n";
  if (config.contains("description")) body << "<p>" << svg::escape(config["description"].get<std::string>()) << "</p>\n";
  body << "<p class='meta'>Teacher: " << svg::escape(teacher.value("dir", std::string("?"))) << " (" << L << " layers × " << H
       << " heads, head size " << teacher.value("head_dim", 0) << ", context " << teacher.value("context", 0) << "). "
       << "Machine: " << svg::escape(doc.value("machine", json::object()).value("cpu", std::string("?"))) << ", "
       << doc.value("machine", json::object()).value("logical_cores", 0) << " logical cores. Ran "
       << fixed(doc.value("elapsed_s", 0.0) / 60, 1) << " minutes" << (doc.contains("finished") ? "" : " (not finished)")
       << ". Every number below was measured by the same code in the same study: <code>attnx-cli study</code>.</p>\n";

  // ---- the frontier ----
  for (auto n : lengths) {
    const auto groups = group(doc, n);
    double teacherPpl = 0;
    for (const auto& [name, points] : groups)
      for (const auto& p : points) teacherPpl = p.teacherPpl;
    body << "<h2>Quality against density, n = " << n << "</h2>\n";
    figure(paretoFigure(groups, false, teacherPpl, n),
           "KL of every plan against the dense teacher on held-out text, by effective density. Learned series are the "
           "mean over seeds with ±1 standard deviation; dashed learned series are the ablations (alpha-order pruning, the "
           "budgeted rule without fine-tuning).",
           "pareto-kl-" + std::to_string(n));
    figure(paretoFigure(groups, true, teacherPpl, n), "Student perplexity on the same text; the dashed line is the teacher's.",
           "pareto-perplexity-" + std::to_string(n));
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, points] : groups)
      for (const auto& p : points)
        rows.push_back({svg::escape(name), svg::escape(p.label), fixed(p.density.mean, 4),
                        fixed(p.kl.mean, 4) + (p.kl.count > 1 ? " ± " + fixed(p.kl.sd, 4) : ""),
                        fixed(p.ppl.mean, 2) + (p.ppl.count > 1 ? " ± " + fixed(p.ppl.sd, 2) : ""),
                        fixed(100 * (p.ppl.mean / p.teacherPpl - 1), 1) + "%", fixed(p.agreement.mean, 4),
                        std::to_string(p.kl.count)});
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return std::stod(a[2]) < std::stod(b[2]); });
    body << verdict(groups);
    body << "<p>Every point: teacher perplexity " << fixed(teacherPpl, 2) << ". Sorted by density.</p>"
         << table({"series", "target / plan", "density", "KL/token", "perplexity", "vs teacher", "top-1 agree", "seeds"},
                  rows, "sortable");
  }

  // ---- the chosen plans, head by head ----
  std::vector<const json*> chosen;
  std::string firstLearned;
  if (config.contains("learned") && !config["learned"].empty()) firstLearned = config["learned"][0].value("name", "");
  for (const auto& e : doc["plans"])
    if (e.value("kind", "") == "learned" && e.value("family", "") == firstLearned && e.value("n", int64_t{0}) == nRef &&
        e.value("variant", "") == "budget+finetune" && e.value("seed", uint64_t{0}) == config["learned"][0]["seeds"][0].get<uint64_t>())
      chosen.push_back(&e);
  if (!chosen.empty() && L > 0 && H > 0) {
    body << "<h2>Where the learned plans spend their density</h2>\n<div class='row'>";
    std::vector<std::string> heads, layers;
    for (int64_t h = 0; h < H; ++h) heads.push_back("H" + std::to_string(h));
    for (int64_t l = 0; l < L; ++l) layers.push_back("L" + std::to_string(l));
    std::string maps;
    for (const auto* e : chosen) {
      std::vector<std::vector<double>> grid(static_cast<size_t>(L), std::vector<double>(static_cast<size_t>(H)));
      const auto& hd = (*e)["head_density"];
      for (int64_t i = 0; i < L * H && i < static_cast<int64_t>(hd.size()); ++i) grid[i / H][i % H] = hd[i].get<double>();
      svg::HeatmapOptions o;
      o.title = "target " + (*e)["target"].dump() + " (density " + fixed((*e)["density"].get<double>(), 3) + ")";
      o.cell = 26;
      o.logScale = true;
      o.low = 0.003;
      o.high = 1;
      o.rowLabels = layers;
      o.columnLabels = heads;
      o.colorBarLabel = "density";
      o.cellText.assign(grid.size(), {});
      for (size_t l = 0; l < grid.size(); ++l)
        for (double v : grid[l]) o.cellText[l].push_back(fixed(v, 2));
      maps += svg::heatmap(o, grid);
    }
    ++figures;
    body << "<figure>" << maps << "<figcaption>Figure " << figures << ". Density of each head (layer × head) in the plans of "
         << svg::escape(firstLearned) << ", first seed, budgeted and fine-tuned, at each target: the budget goes to the "
         << "heads whose hardening costs most KL.</figcaption></figure></div>\n";
  }

  // ---- training ----
  std::set<std::string> runs;
  for (const auto& e : doc["plans"])
    if (e.contains("run") && e.value("kind", "") == "learned") runs.insert(e["run"].get<std::string>());
  if (!runs.empty()) {
    body << "<h2>Distillation</h2>\n";
    std::vector<svg::Series> klSeries;
    size_t colour = 0;
    for (const auto& r : runs) {
      const auto c = readCurves(results.absolute(r) + "/metrics.csv");
      svg::Series s;
      s.name = r.substr(r.rfind('/') + 1);
      s.color = kPalette[colour++ % kPalette.size()];
      s.markers = false;
      s.x = c.steps;
      s.y = c.kl;
      klSeries.push_back(s);
    }
    svg::ChartOptions o;
    o.title = "Training KL of every learned run";
    o.xLabel = "step";
    o.yLabel = "KL per token (training batch, log scale)";
    o.logY = true;
    figure(svg::chart(o, klSeries), "Distillation loss (the KL term) per step, one line per run.", "training-kl");
    const auto first = *runs.begin();
    const auto c = readCurves(results.absolute(first) + "/metrics.csv");
    std::vector<svg::Series> alphaSeries;
    colour = 0;
    for (const auto& [mask, values] : c.alpha) {
      svg::Series s;
      s.name = mask;
      s.color = kPalette[colour++ % kPalette.size()];
      s.markers = false;
      s.x = c.steps;
      s.y = values;
      alphaSeries.push_back(s);
    }
    o.title = "Coefficients of " + first.substr(first.rfind('/') + 1);
    o.yLabel = "alpha, mean over layers and heads (log scale)";
    figure(svg::chart(o, alphaSeries), "How each mask's coefficient evolved during distillation (averaged over heads).",
           "coefficients");
  }

  // ---- heatmaps ----
  if (doc.contains("heatmaps") && !doc["heatmaps"]["heads"].empty()) {
    const auto& hm = doc["heatmaps"];
    body << "<h2>Teacher and student attention, the most changed heads</h2>\n<p>Plan <code>" << svg::escape(hm.value("plan", ""))
         << "</code> (density " << fixed(hm.value("density", 0.0), 3) << ") on " << hm["tokens"].size()
         << " tokens of the test text; the heads whose attention rows differ most from the teacher's (mean KL per row).</p>";
    std::string maps;
    for (const auto& h : hm["heads"]) {
      const auto t = h["teacher"].get<std::vector<std::vector<double>>>(), s = h["student"].get<std::vector<std::vector<double>>>();
      std::string masks;
      for (const auto& m : h["masks"]) masks += (masks.empty() ? "" : " + ") + m.get<std::string>();
      for (int which = 0; which < 2; ++which) {
        svg::HeatmapOptions o;
        o.title = "L" + std::to_string(h["layer"].get<int>()) + "H" + std::to_string(h["head"].get<int>()) +
                  (which ? " student (" + masks + ")" : " teacher") + (which ? "" : ", KL " + fixed(h["attention_kl"].get<double>(), 3));
        o.cell = std::max(3, 256 / std::max<int>(1, static_cast<int>(t.size())));
        o.logScale = true;
        o.low = 1e-4;
        o.high = 1;
        o.colorBarLabel = "weight";
        maps += svg::heatmap(o, which ? s : t);
      }
    }
    figure("<div class='row'>" + maps + "</div>", "Attention probabilities (query rows, key columns; log colour scale) of the "
                                                  "teacher beside the compiled student.");
  }

  // ---- completions ----
  if (doc.contains("completions")) {
    const auto& c = doc["completions"];
    body << "<h2>Completions side by side</h2>\n<p>Prompt (from the test text): <q>" << svg::escape(c.value("prompt", ""))
         << "</q>; " << svg::escape(c.value("sampling", "")) << ", " << c.value("new_tokens", 0) << " new tokens.</p>";
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : c["rows"])
      rows.push_back({svg::escape(r.value("model", "")), fixed(r.value("density", 1.0), 3), svg::escape(r.value("text", ""))});
    body << table({"model", "density", "continuation"}, rows);
  }

  // ---- time and memory ----
  if (doc.contains("attention_timing") && !doc["attention_timing"].empty()) {
    body << "<h2>Time and memory against n</h2>\n";
    std::map<std::string, svg::Series> time, memory;
    size_t colour = 0;
    for (const auto& r : doc["attention_timing"]) {
      if (r.value("skipped", false)) continue;
      const auto name = r.value("plan", "");
      if (!time.count(name)) {
        const auto col = name == "dense" ? std::string("#000000") : kPalette[colour++ % kPalette.size()];
        time[name].name = memory[name].name = name;
        time[name].color = memory[name].color = col;
      }
      time[name].x.push_back(r["n"].get<double>());
      time[name].y.push_back(r["time_ms"].get<double>());
      memory[name].x.push_back(r["n"].get<double>());
      memory[name].y.push_back(std::max(1.0, r["peak_bytes"].get<double>()) / (1 << 20));
    }
    std::vector<svg::Series> t, m;
    for (auto& [k, v] : time) t.push_back(v);
    for (auto& [k, v] : memory) m.push_back(v);
    svg::ChartOptions o;
    o.logX = o.logY = true;
    o.xLabel = "sequence length n";
    o.title = "Attention alone, all " + std::to_string(L * H) + " heads: time";
    o.yLabel = "ms (median)";
    figure(svg::chart(o, t), "Attention-only time of the whole model's heads (compiled block-sparse kernel; dense: LibTorch "
                             "matmul–softmax–matmul) against n.",
           "attention-time");
    o.title = "Attention alone: peak tensor memory";
    o.yLabel = "MiB above the inputs";
    figure(svg::chart(o, m), "Peak tensor memory of the same calls (tracking allocator).", "attention-memory");
  }
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : doc["plans"])
      rows.push_back({svg::escape(e.value("id", "")), std::to_string(e.value("n", 0)), fixed(e.value("density", 0.0), 4),
                      fixed(e.value("kl_per_token", 0.0), 4), fixed(e.value("student_perplexity", 0.0), 2),
                      fixed(e.value("model_ms", 0.0), 1) + " / " + fixed(e.value("teacher_model_ms", 0.0), 1),
                      bytesText(e.value("peak_bytes", 0.0)) + " / " + bytesText(e.value("teacher_peak_bytes", 0.0)),
                      e.contains("plan") ? "<a href='" + svg::escape(e["plan"].get<std::string>()) + "'>plan</a>" : ""});
    body << "<h2>Every plan</h2>\n<p>Whole-model forward of one window on the CPU (student / teacher), and its peak tensor "
            "memory. study.csv holds the same rows.</p>"
         << table({"id", "n", "density", "KL/token", "perplexity", "ms (student / teacher)", "peak memory", "file"}, rows, "sortable");
  }

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>"
       << svg::escape(config.value("name", std::string("attnx study"))) << " — attnx study</title>\n<style>"
       << "body{font-family:sans-serif;max-width:1200px;margin:24px auto;padding:0 16px;color:#222}"
       << "table{border-collapse:collapse;font-size:13px;margin:8px 0 24px}td,th{border:1px solid #ccc;padding:3px 7px;"
          "text-align:left}th{background:#f2f2f2;cursor:pointer}figure{margin:12px 0}figcaption{font-size:13px;color:#555;"
          "max-width:900px}.row{display:flex;flex-wrap:wrap;gap:8px}.meta{color:#555}code{background:#f4f4f4}"
       << "</style></head>\n<body data-figures='" << figures << "'>\n"
       << body.str()
       << "<script>\n"
          "// Self-check for tests and readers: every figure drew, and no script failed.\n"
          "window.addEventListener('error', function(e){ document.body.setAttribute('data-report-error', String(e.message)); });\n"
          "document.addEventListener('DOMContentLoaded', function(){\n"
          "  var figs = document.querySelectorAll('svg.figure'), drawn = 0;\n"
          "  figs.forEach(function(f){ var r = f.getBoundingClientRect(); if (r.width > 0 && r.height > 0 && f.childElementCount > 1) drawn++; });\n"
          "  document.body.setAttribute('data-figures-drawn', String(drawn));\n"
          "  document.querySelectorAll('table.sortable th').forEach(function(th, i){\n"
          "    th.title = 'sort';\n"
          "    th.addEventListener('click', function(){\n"
          "      var body = th.closest('table').tBodies[0], rows = Array.prototype.slice.call(body.rows);\n"
          "      var up = th.getAttribute('data-up') !== '1'; th.setAttribute('data-up', up ? '1' : '0');\n"
          "      rows.sort(function(a, b){ var x = a.cells[i].textContent, y = b.cells[i].textContent;\n"
          "        var nx = parseFloat(x), ny = parseFloat(y);\n"
          "        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y); return up ? c : -c; });\n"
          "      rows.forEach(function(r){ body.appendChild(r); });\n"
          "    });\n"
          "  });\n"
          "  document.body.setAttribute('data-report-ok', '1');\n"
          "});\n</script>\n</body></html>\n";
  const auto path = results.absolute("report.html");
  writeFileAtomically(path, html.str());
  return path;
}

}  // namespace attnx
