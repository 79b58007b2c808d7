// DiffLlama's differential attention (transformers' DiffLlamaAttention): two passes of paged attention over one K/V
// pool, combined per pair of heads, subtracted with the layer's learned lambda and RMS-normed.
#pragma once
#include <vector>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

// One layer's lambda_full = exp(lambda_q1 . lambda_k1) - exp(lambda_q2 . lambda_k2) + lambda_init, and lambda_init
// = 0.8 - 0.6 exp(-0.3 layer), from its four [head_dim] vectors.
struct DiffLambda {
  float full = 0.f;
  float init = 0.f;
};
DiffLambda diff_lambda(const std::vector<float>& q1, const std::vector<float>& k1, const std::vector<float>& q2,
                       const std::vector<float>& k2, int layer);

// The two passes' outputs, grown to the largest batch seen.
struct DiffAttentionScratch {
  std::vector<float> own, across;
};

// Writes [tokens, num_heads * head_dim] into `out`. Query head h's softmax over its KV head j's keys weighs value
// heads j mod half and half + j mod half (half = num_kv_heads / 2) into [o1 | o2]; pairs (p, p + num_heads / 2) of
// those 2 * head_dim rows become rms_norm(first - lambda * second, eps) * (1 - lambda_init), pair p at out's head 2p.
void differential_attention(ThreadPool& pool, const float* query, int q_stride, const float* key_cache, const float* value_cache,
                            AttentionBatch batch, int num_heads, const KvLayout& layout, float scale, const DiffLambda& lambda,
                            float eps, int tokens, float* out, DiffAttentionScratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
