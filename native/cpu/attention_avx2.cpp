// AVX2 PagedAttention work item: scores for a whole block at once, then one online-softmax update per
// query and block (fewer rescales than per token); head_dim must be a multiple of 8.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
inline float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

inline float dot(const float* a, const float* b, int n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int d = 0;
  for (; d + 16 <= n; d += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
  }
  if (d < n) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
  return horizontal_sum(_mm256_add_ps(s0, s1));
}
}  // namespace

void attention_item(const float* query, int q_stride, const float* key_cache, const float* value_cache,
                    const int32_t* positions, const int32_t* block_table, int row_begin, int row_end, int kv_head,
                    int heads_per_kv, const KvLayout& layout, float scale, float* out, int out_stride) {
  const int head_dim = layout.head_dim;
  const int block_size = layout.block_size;
  const size_t token_stride = static_cast<size_t>(layout.num_kv_heads) * head_dim;
  const int num_queries = (row_end - row_begin) * heads_per_kv;
  thread_local std::vector<float> running_max, running_sum, acc, scores;
  running_max.assign(num_queries, -std::numeric_limits<float>::infinity());
  running_sum.assign(num_queries, 0.f);
  acc.assign(static_cast<size_t>(num_queries) * head_dim, 0.f);
  scores.resize(block_size);
  int max_position = 0;
  for (int r = row_begin; r < row_end; ++r) max_position = std::max(max_position, static_cast<int>(positions[r]));
  const int num_blocks = max_position / block_size + 1;
  for (int b = 0; b < num_blocks; ++b) {
    const size_t first_slot = static_cast<size_t>(block_table[b]) * block_size;
    const float* keys = key_cache + first_slot * token_stride + static_cast<size_t>(kv_head) * head_dim;
    const float* values = value_cache + first_slot * token_stride + static_cast<size_t>(kv_head) * head_dim;
    for (int r = row_begin; r < row_end; ++r) {
      const int visible = std::min(block_size, positions[r] + 1 - b * block_size);
      if (visible <= 0) continue;
      for (int g = 0; g < heads_per_kv; ++g) {
        const int qi = (r - row_begin) * heads_per_kv + g;
        const float* q = query + static_cast<size_t>(r) * q_stride + static_cast<size_t>(kv_head * heads_per_kv + g) * head_dim;
        float block_max = -std::numeric_limits<float>::infinity();
        for (int t = 0; t < visible; ++t) {
          scores[t] = dot(q, keys + t * token_stride, head_dim) * scale;
          block_max = std::max(block_max, scores[t]);
        }
        const float new_max = std::max(running_max[qi], block_max);
        const float correction = std::exp(running_max[qi] - new_max);
        float* a = acc.data() + static_cast<size_t>(qi) * head_dim;
        if (correction != 1.f) {
          const __m256 c = _mm256_set1_ps(correction);
          for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(a + d, _mm256_mul_ps(_mm256_loadu_ps(a + d), c));
        }
        float sum = running_sum[qi] * correction;
        for (int t = 0; t < visible; ++t) {
          const float p = std::exp(scores[t] - new_max);
          sum += p;
          const __m256 pv = _mm256_set1_ps(p);
          const float* v = values + t * token_stride;
          for (int d = 0; d < head_dim; d += 8) {
            _mm256_storeu_ps(a + d, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + d), _mm256_loadu_ps(a + d)));
          }
        }
        running_sum[qi] = sum;
        running_max[qi] = new_max;
      }
    }
  }
  for (int r = row_begin; r < row_end; ++r) {
    for (int g = 0; g < heads_per_kv; ++g) {
      const int qi = (r - row_begin) * heads_per_kv + g;
      const __m256 inv = _mm256_set1_ps(1.f / running_sum[qi]);
      float* o = out + static_cast<size_t>(r) * out_stride + static_cast<size_t>(kv_head * heads_per_kv + g) * head_dim;
      const float* a = acc.data() + static_cast<size_t>(qi) * head_dim;
      for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(a + d), inv));
    }
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
