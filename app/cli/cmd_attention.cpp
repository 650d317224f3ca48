// attnx-cli attention --run RUN (--prompt T | --prompt-ids 1,2,3) [--student soft|pruned] [--prune-* RULE]
//                     [--layer L] [--head H] [--teacher DIR] [--json]: the headless twin of the desktop's Attention
// view, answered by the same core RunSession: teacher and student attention maps, the per-head
// KL(teacher || student) and what each teacher head does on the prompt.
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/run_prompt_options.h"

namespace attnx::cli {
namespace {

nlohmann::json rows(const float* map, int n) {
  nlohmann::json out = nlohmann::json::array();
  for (int i = 0; i < n; ++i) out.push_back(std::vector<float>(map + static_cast<size_t>(i) * n, map + static_cast<size_t>(i + 1) * n));
  return out;
}

nlohmann::json roleJson(const HeadRoleShares& r) {
  return {{"kind", r.kind}, {"previous_token", r.previousToken}, {"sink", r.sink}, {"self", r.self},
          {"delimiter", r.delimiter}, {"local", r.local}};
}

}  // namespace

Runner addAttentionCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("attention", "Teacher and student attention maps of a run, with per-head KL and head roles");
  struct Args { RunPromptOptions source; std::string student = "soft"; int layer = -1, head = -1; };
  auto a = std::make_shared<Args>();
  a->source.add(sub, "Prompt text (its first context-length tokens are used)");
  sub->add_option("--student", a->student,
                  "soft (every mask with its learned alpha, or a gated run's gate) or pruned (the run's plan.json, "
                  "else the learned alpha at threshold 0.05, or the --prune-* rule given; through the compiled kernel)")
      ->capture_default_str()->check(CLI::IsMember({"soft", "pruned"}));
  sub->add_option("--layer", a->layer, "Only this layer's maps (0-based)")->check(NonNegative);
  sub->add_option("--head", a->head, "Only this head's maps (0-based; with --layer, one head)")->check(NonNegative);
  addJsonFlag(sub, g);
  return [&g, a] {
    const auto session = a->source.open(g, "attention");
    const auto& info = session->info();
    if (a->layer >= info.layers)
      throw CLI::ValidationError("--layer", std::to_string(a->layer) + " is out of range: the model has " + std::to_string(info.layers) + " layers");
    if (a->head >= info.heads)
      throw CLI::ValidationError("--head", std::to_string(a->head) + " is out of range: the model has " + std::to_string(info.heads) + " heads");
    auto ids = a->source.tokens(*session);
    if (a->source.promptIsText() && static_cast<int64_t>(ids.size()) > info.context) {
      std::cerr << "attnx-cli attention: the prompt has " << ids.size() << " tokens; using the first " << info.context
                << " (the model's context), as the desktop does\n";
      ids.resize(static_cast<size_t>(info.context));
    }
    const auto student = sessionStudentFromName(a->student);
    const auto maps = session->attentionMaps(ids, student);
    const int L = maps->layers, H = maps->heads, n = maps->n;
    auto selected = [&](int l, int h) { return (a->layer < 0 || l == a->layer) && (a->head < 0 || h == a->head); };

    if (g.json) {
      nlohmann::json tokens = nlohmann::json::array(), kl = nlohmann::json::array(), roles = nlohmann::json::array(),
                     heads = nlohmann::json::array();
      for (int id : ids) tokens.push_back(session->tokenText(id));
      for (int l = 0; l < L; ++l) {
        nlohmann::json klRow = nlohmann::json::array(), roleRow = nlohmann::json::array();
        for (int h = 0; h < H; ++h) {
          klRow.push_back(maps->headKl[static_cast<size_t>(l) * H + h]);
          if (!maps->teacherRoles.empty()) roleRow.push_back(roleJson(maps->teacherRoles[static_cast<size_t>(l) * H + h]));
          if (!selected(l, h)) continue;
          heads.push_back({{"layer", l}, {"head", h}, {"kl", maps->headKl[static_cast<size_t>(l) * H + h]},
                           {"teacher", rows(maps->teacher.data() + maps->offset(l, h), n)},
                           {"student", rows(maps->studentMaps.data() + maps->offset(l, h), n)}});
        }
        kl.push_back(klRow);
        if (!maps->teacherRoles.empty()) roles.push_back(roleRow);
      }
      printJson({{"run", info.runDir}, {"teacher", info.teacherDir}, {"student", a->student},
                 {"pruned_plan", info.prunedSource}, {"gated", info.gated}, {"ids", ids}, {"tokens", tokens}, {"n", n},
                 {"layers", L}, {"heads", H}, {"head_kl", kl}, {"roles", roles}, {"delimiter_share", maps->delimiterShare},
                 {"maps", heads}});
      return 0;
    }
    std::printf("run %s, %s student%s, %d tokens\n", info.runDir.c_str(), a->student.c_str(),
                student == SessionStudent::Pruned ? (" (" + info.prunedSource + ")").c_str() : "", n);
    std::printf("KL(teacher || student) per head, nats, mean over query rows%s\n",
                maps->teacherRoles.empty() ? " (head roles need more than 16 tokens)" : "; teacher head role in brackets");
    for (int l = 0; l < L; ++l) {
      std::printf("layer %2d:", l);
      for (int h = 0; h < H; ++h) {
        std::printf("  %8.4f", maps->headKl[static_cast<size_t>(l) * H + h]);
        if (!maps->teacherRoles.empty()) std::printf(" [%s]", maps->teacherRoles[static_cast<size_t>(l) * H + h].kind.c_str());
      }
      std::printf("\n");
    }
    if (a->layer >= 0 && a->head >= 0) {
      // One head: where each query looks most, teacher beside student.
      const float* t = maps->teacher.data() + maps->offset(a->layer, a->head);
      const float* s = maps->studentMaps.data() + maps->offset(a->layer, a->head);
      std::printf("layer %d head %d: query -> most attended key (weight), teacher | student\n", a->layer, a->head);
      for (int i = 0; i < n; ++i) {
        int bt = 0, bs = 0;
        for (int j = 0; j <= i; ++j) {
          if (t[i * n + j] > t[i * n + bt]) bt = j;
          if (s[i * n + j] > s[i * n + bs]) bs = j;
        }
        std::printf("%5d -> %5d (%.3f) | %5d (%.3f)\n", i, bt, t[i * n + bt], bs, s[i * n + bs]);
      }
    }
    return 0;
  };
}

}  // namespace attnx::cli
