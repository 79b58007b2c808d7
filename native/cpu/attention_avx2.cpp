// AVX2 PagedAttention work item: scores for a whole block at once, one online-softmax update per query and
// block (vector exp), and the next block's K/V rows prefetched while this one computes: block tables scatter
// blocks through the pool, so the hardware prefetcher cannot guess where the next one lies.
// head_dim must be a multiple of 8.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
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

// Touches every cache line of one head's rows in a block so they arrive while the current block computes.
inline void prefetch_block(const float* rows, size_t token_stride, int tokens, int head_dim) {
  for (int t = 0; t < tokens; ++t) {
    const char* row = reinterpret_cast<const char*>(rows + t * token_stride);
    for (int offset = 0; offset < head_dim * 4; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T0);
  }
}
}  // namespace

void attention_item(const float* query, int q_stride, const float* key_cache, const float* value_cache,
                    const int32_t* positions, const int32_t* block_table, int row_begin, int row_end, int kv_head,
                    int heads_per_kv, const KvLayout& layout, float scale, float* out, int out_stride) {
  const int head_dim = layout.head_dim;
  const int block_size = layout.block_size;
  const size_t token_stride = static_cast<size_t>(layout.num_kv_heads) * head_dim;
  const int num_queries = (row_end - row_begin) * heads_per_kv;
  const int padded_block = (block_size + 7) / 8 * 8;
  thread_local std::vector<float> running_max, running_sum, acc, scores;
  running_max.assign(num_queries, -std::numeric_limits<float>::infinity());
  running_sum.assign(num_queries, 0.f);
  acc.assign(static_cast<size_t>(num_queries) * head_dim, 0.f);
  scores.resize(padded_block);
  int max_position = 0;
  for (int r = row_begin; r < row_end; ++r) max_position = std::max(max_position, static_cast<int>(positions[r]));
  const int num_blocks = max_position / block_size + 1;
  auto head_rows = [&](const float* cache, int b) {
    return cache + static_cast<size_t>(block_table[b]) * block_size * token_stride + static_cast<size_t>(kv_head) * head_dim;
  };
  for (int b = 0; b < num_blocks; ++b) {
    const float* keys = head_rows(key_cache, b);
    const float* values = head_rows(value_cache, b);
    if (b + 1 < num_blocks) {
      prefetch_block(head_rows(key_cache, b + 1), token_stride, block_size, head_dim);
      prefetch_block(head_rows(value_cache, b + 1), token_stride, block_size, head_dim);
    }
    for (int r = row_begin; r < row_end; ++r) {
      const int visible = std::min(block_size, positions[r] + 1 - b * block_size);
      if (visible <= 0) continue;
      for (int g = 0; g < heads_per_kv; ++g) {
        const int qi = (r - row_begin) * heads_per_kv + g;
        const float* q = query + static_cast<size_t>(r) * q_stride + static_cast<size_t>(kv_head * heads_per_kv + g) * head_dim;
        for (int t = 0; t < visible; ++t) scores[t] = dot(q, keys + t * token_stride, head_dim) * scale;
        for (int t = visible; t < padded_block; ++t) scores[t] = -std::numeric_limits<float>::infinity();
        __m256 block_max = _mm256_loadu_ps(scores.data());
        for (int t = 8; t < padded_block; t += 8) block_max = _mm256_max_ps(block_max, _mm256_loadu_ps(scores.data() + t));
        const float new_max = std::max(running_max[qi], horizontal_max(block_max));
        const __m256 shift = _mm256_set1_ps(new_max);
        __m256 block_sum = _mm256_setzero_ps();
        for (int t = 0; t < padded_block; t += 8) {
          const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(scores.data() + t), shift));
          _mm256_storeu_ps(scores.data() + t, p);
          block_sum = _mm256_add_ps(block_sum, p);
        }
        const float correction = exp256(_mm256_set1_ps(running_max[qi] - new_max))[0];
        float* a = acc.data() + static_cast<size_t>(qi) * head_dim;
        if (correction != 1.f) {
          const __m256 c = _mm256_set1_ps(correction);
          for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(a + d, _mm256_mul_ps(_mm256_loadu_ps(a + d), c));
        }
        for (int t = 0; t < visible; ++t) {
          const __m256 pv = _mm256_set1_ps(scores[t]);
          const float* v = values + t * token_stride;
          for (int d = 0; d < head_dim; d += 8) {
            _mm256_storeu_ps(a + d, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + d), _mm256_loadu_ps(a + d)));
          }
        }
        running_sum[qi] = running_sum[qi] * correction + horizontal_sum(block_sum);
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
