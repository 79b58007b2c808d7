// PhiMoE's sparsemixer routing as transformers 5.18 runs it in eval mode: the top expert, weighted by its probability
// in a softmax over the experts whose logits lie within 2 * jitter_eps (relative) of its own; then the same again for
// the best of the rest, in a softmax from which the first pick is left out. Only the gate weights differ from
// moe_route's; the experts run through moe_mlp's loop as for every other MoE model.
#include <algorithm>
#include <cmath>

#include "moe.h"

namespace pagedllm {
namespace cpu {

namespace {

// The best expert other than `skip` (-1: none), the lowest index on equal logits (torch.max's first maximum).
int best_expert(const float* logits, int num_experts, int skip) {
  int best = -1;
  for (int e = 0; e < num_experts; ++e) {
    if (e != skip && (best < 0 || logits[e] > logits[best])) best = e;
  }
  return best;
}

// The chosen expert's weight: 1 / sum of exp(logit - top) over the experts not masked, where an expert is masked
// when (top - logit) / max(|logit|, top) > threshold (computed in fp32, as torch does), and `skip` always is.
float masked_softmax_weight(const float* logits, int num_experts, int chosen, int skip, float threshold) {
  const float top = logits[chosen];
  float sum = 0.f;
  for (int e = 0; e < num_experts; ++e) {
    if (e == skip) continue;
    const float factor = std::max(std::fabs(logits[e]), top);
    if ((top - logits[e]) / factor > threshold) continue;
    sum += std::exp(logits[e] - top);
  }
  return 1.f / sum;
}

}  // namespace

void sparsemixer_route(const float* router_logits, int num_rows, int num_experts, double jitter_eps, int32_t* experts,
                       float* weights) {
  // transformers compares with the Python float 2 * jitter_eps, which torch takes as an fp32 scalar.
  const float threshold = static_cast<float>(2.0 * jitter_eps);
  for (int r = 0; r < num_rows; ++r) {
    const float* logits = router_logits + static_cast<size_t>(r) * num_experts;
    const int first = best_expert(logits, num_experts, -1);
    const int second = best_expert(logits, num_experts, first);
    experts[2 * r] = first;
    experts[2 * r + 1] = second;
    weights[2 * r] = masked_softmax_weight(logits, num_experts, first, -1, threshold);
    weights[2 * r + 1] = masked_softmax_weight(logits, num_experts, second, first, threshold);
  }
}

}  // namespace cpu
}  // namespace pagedllm
