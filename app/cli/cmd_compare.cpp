// attnx-cli compare --run RUN (--prompt T | --prompt-ids ...) (--completion T | --completion-ids ... |
//                   --new-tokens N [--from teacher|soft|pruned]) [--student soft|pruned] [--json]:
// the headless twin of the desktop's Completions view, answered by the same core RunSession: for
// each token of a completion, the teacher's and the student's next-token distributions compared
// (KL, the token's log-probability under each, the top candidates).
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/run_prompt_options.h"

namespace attnx::cli {

Runner addCompareCommand(CLI::App& app, GlobalOptions& g) {
  auto* sub = app.add_subcommand("compare", "Teacher and student next-token distributions along a completion");
  struct Args {
    RunPromptOptions source;
    std::string completion, completionIds, student = "soft", from = "teacher";
    int64_t newTokens = 16;
  };
  auto a = std::make_shared<Args>();
  a->source.add(sub, "Prompt text");
  auto* completionOpt = sub->add_option("--completion", a->completion, "The completion to compare along, as text");
  auto* completionIdsOpt = sub->add_option("--completion-ids", a->completionIds, "The completion as token ids");
  auto* newOpt = sub->add_option("--new-tokens", a->newTokens, "Without a completion: generate this many tokens greedily")
                     ->capture_default_str()->check(Positive);
  auto* fromOpt = sub->add_option("--from", a->from, "Who writes the generated completion: teacher, soft or pruned")
                      ->capture_default_str()->check(CLI::IsMember({"teacher", "soft", "pruned"}));
  completionOpt->excludes(completionIdsOpt)->excludes(newOpt)->excludes(fromOpt);
  completionIdsOpt->excludes(newOpt)->excludes(fromOpt);
  sub->add_option("--student", a->student, "The student compared with the teacher: soft or pruned (as in attnx-cli attention)")
      ->capture_default_str()->check(CLI::IsMember({"soft", "pruned"}));
  addJsonFlag(sub, g);
  return [&g, a, completionOpt, completionIdsOpt] {
    const auto session = a->source.open(g, "compare");
    const auto& info = session->info();
    const auto prompt = a->source.tokens(*session);
    std::vector<int> completion;
    std::string writer = "given";
    if (completionIdsOpt->count()) {
      completion = parseTokenIds(a->completionIds, "--completion-ids");
    } else if (completionOpt->count()) {
      completion = session->encode(a->completion);
    } else {
      SamplingOptions o;  // greedy
      o.maxNewTokens = a->newTokens;
      writer = a->from;
      if (a->from == "teacher") {
        completion = session->generate(prompt, nullptr, o);
      } else {
        const auto who = sessionStudentFromName(a->from);
        completion = session->generate(prompt, &who, o);
      }
    }
    if (completion.empty()) throw std::runtime_error("the completion is empty (the prompt fills the context?)");
    const auto cmp = session->compare(prompt, completion, sessionStudentFromName(a->student));
    double meanKl = 0;
    for (const auto& c : cmp) meanKl += c.kl / static_cast<double>(cmp.size());

    if (g.json) {
      auto top = [&](const std::vector<TokenCandidate>& v) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& c : v) out.push_back({{"id", c.id}, {"token", session->tokenText(c.id)}, {"probability", c.probability}});
        return out;
      };
      nlohmann::json tokens = nlohmann::json::array();
      for (const auto& c : cmp)
        tokens.push_back({{"id", c.token}, {"token", session->tokenText(c.token)}, {"kl", c.kl},
                          {"teacher_logprob", c.teacherLogprob}, {"student_logprob", c.studentLogprob},
                          {"teacher_top", top(c.teacherTop)}, {"student_top", top(c.studentTop)}});
      printJson({{"run", info.runDir}, {"teacher", info.teacherDir}, {"student", a->student},
                 {"pruned_plan", info.prunedSource}, {"prompt_ids", prompt}, {"completion_ids", completion},
                 {"completion_from", writer}, {"completion_text", session->decode(completion)}, {"mean_kl", meanKl},
                 {"tokens", tokens}});
      return 0;
    }
    std::printf("run %s, %s student, completion %s: %s\n", info.runDir.c_str(), a->student.c_str(),
                writer == "given" ? "given" : ("by the " + writer + (writer == "teacher" ? "" : " student")).c_str(),
                nlohmann::json(session->decode(completion)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::printf("%4s  %-16s %9s %11s %11s  %-16s %-16s\n", "t", "token", "KL", "logp(T)", "logp(S)", "teacher top", "student top");
    for (size_t t = 0; t < cmp.size(); ++t) {
      const auto& c = cmp[t];
      auto label = [&](int id) {
        return nlohmann::json(session->tokenText(id)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      };
      std::printf("%4zu  %-16s %9.4f %11.4f %11.4f  %-16s %-16s\n", t, label(c.token).c_str(), c.kl, c.teacherLogprob,
                  c.studentLogprob, label(c.teacherTop[0].id).c_str(), label(c.studentTop[0].id).c_str());
    }
    std::printf("mean KL %.4f nats over %zu tokens\n", meanKl, cmp.size());
    return 0;
  };
}

}  // namespace attnx::cli
