// attnx-cli figures --run RUN --out DIR [--prompt T] [--pruned [--prune-* RULE]]: every figure the desktop exports (loss curves,
// coefficient curves and grid from metrics.csv, attention heatmaps, overview, analytic cost,
// benchmark plots) as PNG, PDF, SVG and CSV with index.json, headless.
// Built only with the Qt UI (ATTNX_WITH_UI); the work is in ui/export/headless_figures.
#include <cstdio>

#include "app/cli/commands.h"
#include "app/cli/student_options.h"
#include "ui/export/headless_figures.h"

namespace attnx::cli {

Runner addFiguresCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("figures", "Write the desktop app's figures of a run to a folder (PNG, PDF, SVG, CSV, index.json)");
  auto job = std::make_shared<ui::FiguresJob>();
  sub->add_option("--run", job->runDir, "Run folder made by attnx-cli distill")->required();
  sub->add_option("--out", job->outDir, "Folder to write the figures to (created)")->required();
  sub->add_option("--prompt", job->prompt, "Text whose attention is drawn (default: a fixed sentence)");
  sub->add_option("--teacher,--model", job->teacher, "Teacher folder (default: the run's)");
  sub->add_option("--layer", job->layer, "Layer of the large heatmaps and of the coefficient curves")->capture_default_str()->check(NonNegative);
  sub->add_option("--head", job->head, "Head of the large heatmaps and of the coefficient curves")->capture_default_str()->check(NonNegative);
  sub->add_flag("--pruned", job->pruned,
                "Show the pruned plan (the --prune-* rule given, else plan.json, else threshold 0.05) instead of the soft student");
  auto prune = std::make_shared<PruningOptions>();
  prune->add(sub, /*shortNames=*/false);
  sub->add_option("--bench-json", job->benchJson, "Also plot this output of attnx-cli bench --attention-only --json");
  sub->add_option("--width", job->width, "Figure width in pixels")->capture_default_str()->check(CLI::Range(16, 20000));
  sub->add_option("--height", job->height, "Figure height in pixels")->capture_default_str()->check(CLI::Range(16, 20000));
  sub->add_option("--dpi", job->dpi, "Resolution (text scales with dpi/96)")->capture_default_str()->check(CLI::Range(24.0, 2400.0));
  addJsonFlag(sub, g);
  return [&g, job, prune] {
    job->pruneRule = prune->rule(/*densityLength: the run's, set by RunSession*/ 1);
    const auto files = ui::writeFiguresHeadless(*job);
    if (g.json) {
      printJson({{"out", job->outDir}, {"files", files}});
    } else {
      for (const auto& f : files) std::printf("%s\n", f.c_str());
      std::fprintf(stderr, "figures: %zu files written to %s\n", files.size(), job->outDir.c_str());
    }
    return 0;
  };
}

}  // namespace attnx::cli
