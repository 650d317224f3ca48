// A hard attention plan: which masks of a bank stay active in each (layer, head) after training,
// with their weights (method.md, "Hardening and compiling"), its pruning rules, its JSON file, and
// the sparsity and analytic cost it implies ("What is measured"). Torch-free: alpha comes in as a
// flat vector, so plans are built, saved, inspected and costed without LibTorch.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/masks/mask_bank.h"

namespace attnx {

// A plan or plan file that is unusable as given, or a plan used with a bank it was not made for.
struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PruningProfile;  // pruning_profile.h

// How soft coefficients become a hard plan. In every rule a mask with alpha = 0 is never active
// (it contributes nothing in either way of combining). Hardening is faithful (method.md): a head's
// kept masks share its whole trained alpha sum, w_k = alpha_k * sum_all(alpha) / sum_kept(alpha), so a
// branch-mixture head keeps its output scale when masks are dropped (a soft-mask head is unchanged by
// the common factor: its softmax normalises it away). Pruning nothing keeps every alpha as it is.
struct PruningRule {
  enum class Kind {
    // Keep alpha >= threshold (and alpha > 0). A head may end with no mask (see AttentionPlan).
    Threshold,
    // Keep the topK largest alpha of each head (fewer if the head has fewer non-zero alpha);
    // equal alpha: the lower mask index wins.
    TopK,
    // Start from every alpha > 0; repeatedly remove the smallest remaining alpha over all heads
    // (equal alpha: the higher flat (layer, head, mask) index goes first, so that lower mask
    // indices survive as in TopK), never a head's last active mask, until the mean effective
    // density over all heads at length densityLength is <= targetDensity, or nothing can be
    // removed. The check comes before each removal, so a plan already at or below the target is
    // left as it is. Removing a mask whose support is covered by other active masks of its head
    // lowers nothing and the loop simply goes on; the result can stay above the target.
    TargetDensity,
    // Budgeted (MoA-style): needs the run's PruningProfile, the measured KL increase of each head
    // hardened alone to each rung of its ladder. Every head starts at its trained set; repeatedly the
    // head whose next move on the lower convex hull of its (density, KL increase) rungs costs the least
    // KL per attended pair saved takes that move (equal cost: the lower flat head index), until the
    // mean density at densityLength is <= targetDensity or every head is on its last rung. Plans for
    // lower targets are nested inside those for higher ones, so the frontier moves one way.
    Budget,
  };
  Kind kind = Kind::Threshold;
  double threshold = 0.0;        // Threshold: tau >= 0
  int64_t topK = 1;              // TopK: k >= 1
  double targetDensity = 1.0;    // TargetDensity, Budget: rho in (0, 1]
  int64_t densityLength = 1024;  // TargetDensity, Budget: n at which density is measured, >= 1

  static PruningRule thresholdRule(double tau);
  static PruningRule topKRule(int64_t k);
  static PruningRule targetDensityRule(double rho, int64_t n);
  static PruningRule budgetRule(double rho, int64_t n);
  // The same rule with its density measured at n (TargetDensity, Budget); the others unchanged. The
  // --prune-* options and the Attention view give a rule before the run's training length is known.
  PruningRule atLength(int64_t n) const;

  // The first problem with the parameters of this rule's kind, empty when valid.
  std::string problem() const;
  // "threshold", "top-k", "target-density", "budget" as written in plan files.
  static const char* kindName(Kind kind);
  // "threshold 0.05", "top-2", "density 0.3 at n=1024", "budget 0.25 at n=512": for listings.
  std::string text() const;

  bool operator==(const PruningRule& other) const;
  bool operator!=(const PruningRule& other) const { return !(*this == other); }
};

// Faithful hardening of one head: its K trained alpha with only the masks `kept` (bank indices) left,
// rescaled to the head's whole alpha sum, w_k = alpha_k * sum_all / sum_kept; 0 for the others. A head
// whose kept alpha sum to 0 keeps them as they are.
std::vector<double> hardenHead(const std::vector<double>& headAlpha, const std::vector<int>& kept);

// One active mask of a head.
struct PlanEntry {
  int maskIndex = 0;    // index in the bank (and in AttentionPlan::maskNames)
  double weight = 0.0;  // > 0: alpha as trained, scaled by the head's faithful-hardening factor
  bool operator==(const PlanEntry& o) const { return maskIndex == o.maskIndex && weight == o.weight; }
  bool operator!=(const PlanEntry& o) const { return !(*this == o); }
};

// How a plan's heads would be executed, for cost accounting (mirrors MixtureOptions::Combine,
// which lives in a LibTorch header).
enum class PlanCombine { SoftMask, BranchMixture };

// Per (layer, head), the active masks with their weights, sorted by mask index.
//
// Empty heads (possible with the threshold rule only): the union of no masks attends no pair, so
// density and cost count 0 for that head. At run time (alphaTensorValues() through
// MaskMixtureAttention) a soft-mask head with all-zero alpha falls back to the diagonal (n pairs)
// and a branch-mixture head outputs zeros.
class AttentionPlan {
 public:
  static constexpr const char* kFormat = "attnx-attention-plan";
  static constexpr int kVersion = 1;

  int64_t numLayers = 0;
  int64_t numHeads = 0;
  std::vector<std::string> maskNames;        // the bank's mask names, in bank order
  PruningRule rule;                          // the rule that made the plan
  int64_t finetuneSteps = 0;                 // steps its weights were fine-tuned after hardening (plan_finetuner.h)
  std::vector<std::vector<PlanEntry>> heads; // numLayers * numHeads lists, index layer * numHeads + head

  // alpha: (L, H, K) row-major, K = bank size, every value finite and >= 0 (else PlanError).
  // profile: required by the Budget rule (PlanError without one, or when it does not fit the bank,
  // the shape, or alpha: a rung may only keep masks with alpha > 0); ignored by the others.
  static AttentionPlan fromAlpha(const std::vector<double>& alpha, int64_t numLayers, int64_t numHeads,
                                 const MaskBank& bank, const PruningRule& rule,
                                 const PruningProfile* profile = nullptr);

  const std::vector<PlanEntry>& active(int64_t layer, int64_t head) const;
  int64_t numMasks() const { return static_cast<int64_t>(maskNames.size()); }
  int64_t activeCount() const;  // active (layer, head, mask) triples

  // (L, H, K) row-major: the weight of each active mask, 0 for pruned ones. Fed as theta to a
  // ClampedRaw MaskMixtureCoefficients, it runs the pruned student through MaskMixtureAttention.
  std::vector<double> alphaTensorValues() const;

  // ---- sparsity at length n (n >= 1). Every function taking a bank first calls checkBank. ----
  // Attended pairs of head (l, h): |union of the supports of its active masks| (O(n) memory).
  int64_t attendedPairs(const MaskBank& bank, int64_t layer, int64_t head, int64_t n) const;
  // attendedPairs / causal pairs n(n+1)/2, per head (flat, layer * numHeads + head).
  std::vector<double> headDensities(const MaskBank& bank, int64_t n) const;
  // Mean over the heads of each layer, one value per layer.
  std::vector<double> layerDensities(const MaskBank& bank, int64_t n) const;
  // Mean over all heads.
  double meanDensity(const MaskBank& bank, int64_t n) const;

  // What every active mask of every head together can reach (MaskSpec::keyReach), nullopt when one
  // of them reaches back without bound: a window/sink plan lets decoding drop older keys. A head with
  // no mask attends its own key at most: {0, 1}.
  std::optional<KeyReach> keyReach(const MaskBank& bank) const;

  // ---- analytic attention cost of one sequence of length n, all layers and heads ----
  // A pair (i, j) costs one d-long dot product for S_ij = q_i . k_j and one d-long multiply-add of
  // P_ij into the output row (PV): 2d multiply-adds = 4d FLOPs. Softmax, masking and projections are
  // not counted.
  //   dense         = L * H * n(n+1)/2 * 4d            (causal pairs only, as a causal kernel would)
  //   soft mask     = sum over heads of |union of active supports| * 4d
  //   branch mixture= sum over heads, over active masks k, of pairs(m_k) * 4d  (a pair in several
  //                   branches is computed once per branch)
  static double denseAttentionFlops(int64_t numLayers, int64_t numHeads, int64_t headDim, int64_t n);
  double attentionFlops(const MaskBank& bank, PlanCombine combine, int64_t headDim, int64_t n) const;
  // Bytes of attention probabilities, all layers and heads (a layer-by-layer forward holds one
  // layer at a time: divide by L for a uniform plan):
  //   materialised  = L * H * n * n * bytesPerElement  (the full (n, n) matrix a dense kernel builds)
  //   sparse        = soft mask: sum over heads of union pairs * bytesPerElement;
  //                   branch mixture: sum over heads and active masks of pairs(m_k) * bytesPerElement
  // Index storage of a sparse layout is not counted.
  static double denseAttentionBytes(int64_t numLayers, int64_t numHeads, int64_t n, int64_t bytesPerElement = 4);
  double attentionBytes(const MaskBank& bank, PlanCombine combine, int64_t n, int64_t bytesPerElement = 4) const;

  // Throws PlanError when the bank's mask names are not maskNames (same names, same order).
  void checkBank(const MaskBank& bank) const;
  // Throws PlanError for the first inconsistency (sizes, indices, weights, order, rule).
  void validate() const;

  // ---- the plan file ----
  // {"format": "attnx-attention-plan", "version": 1, "layers": L, "heads": H,
  //  "masks": ["causal", "win64", ...], "rule": {"kind": "top-k", "k": 2}, ["finetune_steps": 40,]
  //  "plan": [ /* layer 0 */ [ /* head 0 */ [{"mask": "win64", "weight": 0.73}, ...], ... ], ... ]}
  // Entries name their mask; each head's list is in bank order. One line per head. "finetune_steps"
  // is written only when > 0 (absent: 0).
  std::string toJsonText() const;
  static AttentionPlan fromJsonText(const std::string& text, const std::string& origin);
  static AttentionPlan fromJson(const nlohmann::json& doc, const std::string& origin);
  // Validates, then writes toJsonText() with writeFileAtomically. Errors: PlanError "<path>: ...".
  void save(const std::string& path) const;
  // Reads and validates; errors: PlanError "<path>: ...".
  static AttentionPlan load(const std::string& path);

  bool operator==(const AttentionPlan& other) const;
  bool operator!=(const AttentionPlan& other) const { return !(*this == other); }

 private:
  std::vector<double> headCoefficients(int64_t layer, int64_t head) const;  // K values, 0 = inactive
};

}  // namespace attnx
