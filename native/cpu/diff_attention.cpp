// DiffLlama's differential attention as two passes of the shared paged kernel (the second pairing each KV head's keys
// with the value head half the KV heads away), combined as transformers combines its two attention calls.
#include "diff_attention.h"

#include <cmath>

#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

DiffLambda diff_lambda(const std::vector<float>& q1, const std::vector<float>& k1, const std::vector<float>& q2,
                       const std::vector<float>& k2, int layer) {
  float dot1 = 0.f, dot2 = 0.f;
  for (size_t i = 0; i < q1.size(); ++i) {
    dot1 += q1[i] * k1[i];
    dot2 += q2[i] * k2[i];
  }
  const float init = static_cast<float>(0.8 - 0.6 * std::exp(-0.3 * layer));
  return {std::exp(dot1) - std::exp(dot2) + init, init};
}

void differential_attention(ThreadPool& pool, const float* query, int q_stride, const float* key_cache, const float* value_cache,
                            AttentionBatch batch, int num_heads, const KvLayout& layout, float scale, const DiffLambda& lambda,
                            float eps, int tokens, float* out, DiffAttentionScratch& scratch) {
  const int d = layout.head_dim, half_kv = layout.num_kv_heads / 2, heads_per_kv = num_heads / layout.num_kv_heads;
  const size_t width = static_cast<size_t>(num_heads) * d;
  // Pass "own": KV head j's values; pass "across": value head (j + half) mod KV heads.
  std::vector<float>& own = scratch.own;
  std::vector<float>& across = scratch.across;
  own.resize(static_cast<size_t>(tokens) * width);
  across.resize(own.size());
  batch.value_head_shift = 0;
  paged_attention(pool, query, q_stride, key_cache, value_cache, batch, num_heads, layout, scale, own.data());
  batch.value_head_shift = half_kv;
  paged_attention(pool, query, q_stride, key_cache, value_cache, batch, num_heads, layout, scale, across.data());
  const float out_scale = 1.f - lambda.init;
  for_row_ranges(pool, tokens, width * 4, [&](int begin, int end) {
    std::vector<float> diff(2 * static_cast<size_t>(d));
    for (int t = begin; t < end; ++t) {
      const size_t row = static_cast<size_t>(t) * width;
      // o1 takes value head j mod half: the own pass for j < half, the across pass above; o2 the other one.
      const auto o1 = [&](int h) { return (h / heads_per_kv < half_kv ? own.data() : across.data()) + row + static_cast<size_t>(h) * d; };
      const auto o2 = [&](int h) { return (h / heads_per_kv < half_kv ? across.data() : own.data()) + row + static_cast<size_t>(h) * d; };
      for (int p = 0; p < num_heads / 2; ++p) {
        const int q = p + num_heads / 2;
        for (int i = 0; i < d; ++i) {
          diff[i] = o1(p)[i] - lambda.full * o1(q)[i];
          diff[d + i] = o2(p)[i] - lambda.full * o2(q)[i];
        }
        double squares = 0.0;
        for (float x : diff) squares += static_cast<double>(x) * x;
        const float inverse_rms = static_cast<float>(1.0 / std::sqrt(squares / (2.0 * d) + eps));
        float* target = out + row + static_cast<size_t>(2 * p) * d;
        for (size_t i = 0; i < diff.size(); ++i) target[i] = diff[i] * inverse_rms * out_scale;
      }
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
