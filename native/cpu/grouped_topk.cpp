// DeepSeek V2/V3's expert choice as transformers 5.18's DeepseekV2TopkRouter / DeepseekV3TopkRouter compute it: scores
// (softmax, or sigmoid plus the correction bias for the choice; ERNIE 4.5 MoE: softmax plus the bias), the best groups
// kept, top-k among their experts.
#include <cmath>
#include <limits>
#include <vector>

#include "moe.h"

namespace pagedllm {
namespace cpu {

namespace {

// The index of the largest value not yet taken; strictly greater wins, so ties go to the lower index.
int best_untaken(const std::vector<float>& values, const std::vector<uint8_t>& taken, int begin, int end) {
  int best = -1;
  for (int i = begin; i < end; ++i) {
    if (!taken[i] && (best < 0 || values[i] > values[best])) best = i;
  }
  return best;
}

}  // namespace

void grouped_topk_route(const ModelConfig& config, const float* router_logits, const float* bias, int num_rows, int32_t* experts,
                        float* weights) {
  const int num_experts = config.num_experts, top_k = config.num_experts_per_tok;
  const int groups = config.moe_groups, per_group = num_experts / groups;
  std::vector<float> scores(num_experts), choice(num_experts), group_scores(groups);
  std::vector<uint8_t> taken(num_experts), group_taken(groups);
  for (int r = 0; r < num_rows; ++r) {
    const float* logits = router_logits + static_cast<size_t>(r) * num_experts;
    if (config.moe_sigmoid) {
      for (int e = 0; e < num_experts; ++e) scores[e] = 1.f / (1.f + std::exp(-logits[e]));
    } else {
      float max = logits[0], sum = 0.f;
      for (int e = 1; e < num_experts; ++e) max = std::max(max, logits[e]);
      for (int e = 0; e < num_experts; ++e) sum += scores[e] = std::exp(logits[e] - max);
      for (int e = 0; e < num_experts; ++e) scores[e] /= sum;
    }
    for (int e = 0; e < num_experts; ++e) choice[e] = bias ? scores[e] + bias[e] : scores[e];
    if (groups > 1) {
      // A group's rank: its best choice score (V2), or the sum of its best two (V3).
      std::fill(taken.begin(), taken.end(), 0);
      for (int g = 0; g < groups; ++g) {
        const int first = best_untaken(choice, taken, g * per_group, (g + 1) * per_group);
        group_scores[g] = choice[first];
        if (config.moe_group_top2) {
          taken[first] = 1;
          group_scores[g] += choice[best_untaken(choice, taken, g * per_group, (g + 1) * per_group)];
          taken[first] = 0;
        }
      }
      std::fill(group_taken.begin(), group_taken.end(), 0);
      for (int k = 0; k < config.moe_topk_groups; ++k) group_taken[best_untaken(group_scores, group_taken, 0, groups)] = 1;
      // The other groups' experts: -inf for V3's choice, a score of 0 for V2's (its masked_fill values).
      const float masked = config.moe_sigmoid ? -std::numeric_limits<float>::infinity() : 0.f;
      for (int e = 0; e < num_experts; ++e) {
        if (!group_taken[e / per_group]) choice[e] = masked;
      }
    }
    std::fill(taken.begin(), taken.end(), 0);
    int32_t* chosen = experts + static_cast<size_t>(r) * top_k;
    float* chosen_weight = weights + static_cast<size_t>(r) * top_k;
    float sum = 0.f;
    for (int k = 0; k < top_k; ++k) {
      const int e = best_untaken(choice, taken, 0, num_experts);
      taken[e] = 1;
      chosen[k] = e;
      // A correction bias only chooses (V3, ERNIE 4.5's softmax one): weights are unbiased scores; V2 weighs by its (masked) score.
      chosen_weight[k] = config.moe_sigmoid || bias ? scores[e] : choice[e];
      sum += chosen_weight[k];
    }
    for (int k = 0; k < top_k; ++k) {
      if (config.norm_topk_prob) chosen_weight[k] /= sum + config.moe_topk_norm_eps;
      chosen_weight[k] *= config.routed_scaling_factor;
    }
  }
}

}  // namespace cpu
}  // namespace pagedllm
