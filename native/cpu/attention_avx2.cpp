// AVX2 PagedAttention work item: scores for a whole block at once (four keys per pass), one online-softmax
// update per query and block (vector exp), the output accumulator held in registers across the block's tokens,
// and the next blocks' K/V rows prefetched while this one computes: block tables scatter blocks through the
// pool, so the hardware prefetcher cannot guess where the next one lies.
// head_dim must be a multiple of 8.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels_avx2.h"
#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {
// Four sums of 8 lanes each, as one 4-lane vector.
inline __m128 horizontal_sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 ab = _mm256_hadd_ps(a, b);  // a01 a23 b01 b23 | a45 a67 b45 b67
  const __m256 cd = _mm256_hadd_ps(c, d);
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// scores[t] = q . k_t * scale for t < count, four keys per pass so each q load feeds four FMAs.
inline void block_scores(const float* q, const float* keys, size_t token_stride, int count, int head_dim, float scale,
                         float* scores) {
  const __m128 scale4 = _mm_set1_ps(scale);
  int t = 0;
  for (; t + 4 <= count; t += 4) {
    const float* k0 = keys + t * token_stride;
    const float* k1 = k0 + token_stride;
    const float* k2 = k1 + token_stride;
    const float* k3 = k2 + token_stride;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int d = 0; d < head_dim; d += 8) {
      const __m256 qv = _mm256_loadu_ps(q + d);
      s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), s0);
      s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + d), s1);
      s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + d), s2);
      s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + d), s3);
    }
    _mm_storeu_ps(scores + t, _mm_mul_ps(horizontal_sum4(s0, s1, s2, s3), scale4));
  }
  for (; t < count; ++t) {
    const float* k = keys + t * token_stride;
    __m256 s = _mm256_setzero_ps();
    for (int d = 0; d < head_dim; d += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), s);
    scores[t] = horizontal_sum(s) * scale;
  }
}

// acc = acc * correction + sum_t p[t] v_t, 64 dimensions at a time held in registers across all tokens.
inline void accumulate_values(float* acc, float correction, const float* p, const float* values, size_t token_stride,
                              int count, int head_dim) {
  const __m256 c = _mm256_set1_ps(correction);
  int d = 0;
  for (; d + 64 <= head_dim; d += 64) {
    __m256 a[8];
    for (int i = 0; i < 8; ++i) a[i] = _mm256_mul_ps(_mm256_loadu_ps(acc + d + 8 * i), c);
    for (int t = 0; t < count; ++t) {
      const __m256 pv = _mm256_broadcast_ss(p + t);
      const float* v = values + t * token_stride + d;
      for (int i = 0; i < 8; ++i) a[i] = _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + 8 * i), a[i]);
    }
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(acc + d + 8 * i, a[i]);
  }
  for (; d < head_dim; d += 8) {
    __m256 a = _mm256_mul_ps(_mm256_loadu_ps(acc + d), c);
    for (int t = 0; t < count; ++t) a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + t), _mm256_loadu_ps(values + t * token_stride + d), a);
    _mm256_storeu_ps(acc + d, a);
  }
}

// Blocks requested ahead of the one computing: one block of one head is only a few KB, so with a single block in
// flight a short decode context (a few blocks per head, read once per step from memory) waited on each one in turn.
constexpr int kPrefetchBlocks = 4;

// Touches every cache line of one head's rows in a block so they arrive while the current block computes.
inline void prefetch_block(const float* rows, size_t token_stride, int tokens, int head_dim) {
  for (int t = 0; t < tokens; ++t) {
    const char* row = reinterpret_cast<const char*>(rows + t * token_stride);
    for (int offset = 0; offset < head_dim * 4; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T0);
  }
}
}  // namespace

void attention_item(const float* query, int q_stride, const float* key_cache, const float* value_cache,
                    const int32_t* positions, const int32_t* block_table, int row_begin, int row_end, int kv_head_begin,
                    int kv_head_end, int heads_per_kv, const KvLayout& layout, float scale, float* out, int out_stride,
                    float softcap, int sliding_window, const float* alibi_slopes, const float* sinks, int value_head_shift) {
  const int head_dim = layout.head_dim;
  const int block_size = layout.block_size;
  const size_t token_stride = static_cast<size_t>(layout.num_kv_heads) * head_dim;
  const int kv_heads = kv_head_end - kv_head_begin;
  const int num_queries = (row_end - row_begin) * kv_heads * heads_per_kv;
  // Query slot of (row, kv head, group member) in the running state.
  auto query_index = [&](int r, int h, int g) { return ((r - row_begin) * kv_heads + (h - kv_head_begin)) * heads_per_kv + g; };
  const int padded_block = (block_size + 7) / 8 * 8;
  thread_local Scratch max_scratch, sum_scratch, acc_scratch, score_scratch;
  float* running_max = max_scratch.filled(num_queries, -std::numeric_limits<float>::infinity());
  float* running_sum = sum_scratch.filled(num_queries, 0.f);
  float* acc = acc_scratch.filled(static_cast<size_t>(num_queries) * head_dim, 0.f);
  float* scores = score_scratch.floats(padded_block);
  int max_position = 0, min_first = std::numeric_limits<int>::max();
  for (int r = row_begin; r < row_end; ++r) {
    max_position = std::max(max_position, static_cast<int>(positions[r]));
    min_first = std::min(min_first, first_visible_position(positions[r], sliding_window));
  }
  const int num_blocks = max_position / block_size + 1;
  const int first_block = min_first / block_size;  // blocks wholly before every row's window are never read
  auto head_rows = [&](const float* cache, int b, int h) {
    return cache + static_cast<size_t>(block_table[b]) * block_size * token_stride + static_cast<size_t>(h) * head_dim;
  };
  auto prefetch = [&](int b) {
    for (int h = kv_head_begin; h < kv_head_end; ++h) {
      prefetch_block(head_rows(key_cache, b, h), token_stride, block_size, head_dim);
      prefetch_block(head_rows(value_cache, b, (h + value_head_shift) % layout.num_kv_heads), token_stride, block_size, head_dim);
    }
  };
  for (int b = first_block; b < std::min(num_blocks, first_block + kPrefetchBlocks); ++b) prefetch(b);
  for (int b = first_block; b < num_blocks; ++b) {
    if (b + kPrefetchBlocks < num_blocks) prefetch(b + kPrefetchBlocks);
    for (int h = kv_head_begin; h < kv_head_end; ++h) {
      const float* keys = head_rows(key_cache, b, h);
      const float* values = head_rows(value_cache, b, (h + value_head_shift) % layout.num_kv_heads);
      for (int r = row_begin; r < row_end; ++r) {
        // This row sees the block's tokens [first, first + visible).
        const int first = std::max(0, first_visible_position(positions[r], sliding_window) - b * block_size);
        const int visible = std::min(block_size, positions[r] + 1 - b * block_size) - first;
        if (visible <= 0) continue;
        for (int g = 0; g < heads_per_kv; ++g) {
          const int qi = query_index(r, h, g);
          const float* q = query + static_cast<size_t>(r) * q_stride + static_cast<size_t>(h * heads_per_kv + g) * head_dim;
          block_scores(q, keys + first * token_stride, token_stride, visible, head_dim, scale, scores);
          if (softcap > 0.f) {
            for (int t = 0; t < visible; ++t) scores[t] = softcap_score(scores[t], softcap);
          }
          if (alibi_slopes != nullptr) add_alibi(scores, visible, alibi_slopes[h * heads_per_kv + g], b * block_size + first - positions[r]);
          for (int t = visible; t < padded_block; ++t) scores[t] = -std::numeric_limits<float>::infinity();
          __m256 block_max = _mm256_loadu_ps(scores);
          for (int t = 8; t < padded_block; t += 8) block_max = _mm256_max_ps(block_max, _mm256_loadu_ps(scores + t));
          const float new_max = std::max(running_max[qi], horizontal_max(block_max));
          const __m256 shift = _mm256_set1_ps(new_max);
          __m256 block_sum = _mm256_setzero_ps();
          for (int t = 0; t < padded_block; t += 8) {
            const __m256 p = exp256(_mm256_sub_ps(_mm256_loadu_ps(scores + t), shift));
            _mm256_storeu_ps(scores + t, p);
            block_sum = _mm256_add_ps(block_sum, p);
          }
          const float correction = exp256(_mm256_set1_ps(running_max[qi] - new_max))[0];
          accumulate_values(acc + static_cast<size_t>(qi) * head_dim, correction, scores, values + first * token_stride,
                            token_stride, visible, head_dim);
          running_sum[qi] = running_sum[qi] * correction + horizontal_sum(block_sum);
          running_max[qi] = new_max;
        }
      }
    }
  }
  for (int r = row_begin; r < row_end; ++r) {
    for (int h = kv_head_begin; h < kv_head_end; ++h) {
      for (int g = 0; g < heads_per_kv; ++g) {
        const int qi = query_index(r, h, g);
        const __m256 inv = _mm256_set1_ps(softmax_normalizer(running_sum[qi], running_max[qi], sinks, h * heads_per_kv + g));
        float* o = out + static_cast<size_t>(r) * out_stride + static_cast<size_t>(h * heads_per_kv + g) * head_dim;
        const float* a = acc + static_cast<size_t>(qi) * head_dim;
        for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(a + d), inv));
      }
    }
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
