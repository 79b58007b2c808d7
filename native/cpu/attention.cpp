// PagedAttention on the CPU: splits the batch into (sequence, row chunk, KV heads) work items and runs each
// with the AVX2 or the portable kernel. All query heads of a KV head share a work item, so each K/V block is
// read from memory once per GQA group and reused from L1 by the group's heads and the chunk's rows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels_avx2.h"

namespace pagedllm {
namespace cpu {

namespace {

constexpr int kRowChunk = 16;
// Below this much K/V to read in a call, the calling thread runs every work item itself.
constexpr size_t kMinParallelKvBytes = 256 << 10;

// Portable twin of avx2::attention_item: blockwise online softmax, fp32 state.
void scalar_attention_item(const float* query, int q_stride, const float* key_cache, const float* value_cache,
                           const int32_t* positions, const int32_t* block_table, int row_begin, int row_end,
                           int kv_head_begin, int kv_head_end, int heads_per_kv, const KvLayout& layout, float scale,
                           float* out, int out_stride, float softcap, int sliding_window, const float* alibi_slopes, const float* sinks,
                           int value_head_shift) {
  const int head_dim = layout.head_dim;
  const int block_size = layout.block_size;
  const size_t token_stride = static_cast<size_t>(layout.num_kv_heads) * head_dim;
  const int kv_heads = kv_head_end - kv_head_begin;
  const int num_queries = (row_end - row_begin) * kv_heads * heads_per_kv;
  auto query_index = [&](int r, int h, int g) { return ((r - row_begin) * kv_heads + (h - kv_head_begin)) * heads_per_kv + g; };
  std::vector<float> running_max(num_queries, -std::numeric_limits<float>::infinity());
  std::vector<float> running_sum(num_queries, 0.f);
  std::vector<float> acc(static_cast<size_t>(num_queries) * head_dim, 0.f);
  std::vector<float> scores(block_size);
  int max_position = 0, min_first = std::numeric_limits<int>::max();
  for (int r = row_begin; r < row_end; ++r) {
    max_position = std::max(max_position, static_cast<int>(positions[r]));
    min_first = std::min(min_first, first_visible_position(positions[r], sliding_window));
  }
  const int num_blocks = max_position / block_size + 1;
  // Blocks wholly before every row's window are never read.
  for (int b = min_first / block_size; b < num_blocks; ++b) {
    const size_t first_slot = static_cast<size_t>(block_table[b]) * block_size;
    for (int h = kv_head_begin; h < kv_head_end; ++h) {
      const float* keys = key_cache + first_slot * token_stride + static_cast<size_t>(h) * head_dim;
      const float* values = value_cache + first_slot * token_stride + static_cast<size_t>((h + value_head_shift) % layout.num_kv_heads) * head_dim;
      for (int r = row_begin; r < row_end; ++r) {
        // This row sees the block's tokens [first, visible).
        const int visible = std::min(block_size, positions[r] + 1 - b * block_size);
        const int first = std::max(0, first_visible_position(positions[r], sliding_window) - b * block_size);
        if (visible <= first) continue;
        for (int g = 0; g < heads_per_kv; ++g) {
          const int qi = query_index(r, h, g);
          const float* q = query + static_cast<size_t>(r) * q_stride + static_cast<size_t>(h * heads_per_kv + g) * head_dim;
          float block_max = -std::numeric_limits<float>::infinity();
          const float slope = alibi_slopes != nullptr ? alibi_slopes[h * heads_per_kv + g] : 0.f;
          for (int t = first; t < visible; ++t) {
            const float* k = keys + t * token_stride;
            float dot = 0;
            for (int d = 0; d < head_dim; ++d) dot += q[d] * k[d];
            scores[t] = dot * scale;
            if (softcap > 0.f) scores[t] = softcap_score(scores[t], softcap);
            if (alibi_slopes != nullptr) scores[t] += alibi_bias(slope, b * block_size + t - positions[r]);
            block_max = std::max(block_max, scores[t]);
          }
          const float new_max = std::max(running_max[qi], block_max);
          const float correction = std::exp(running_max[qi] - new_max);
          float* a = acc.data() + static_cast<size_t>(qi) * head_dim;
          for (int d = 0; d < head_dim; ++d) a[d] *= correction;
          float sum = running_sum[qi] * correction;
          for (int t = first; t < visible; ++t) {
            const float p = std::exp(scores[t] - new_max);
            sum += p;
            const float* v = values + t * token_stride;
            for (int d = 0; d < head_dim; ++d) a[d] += p * v[d];
          }
          running_sum[qi] = sum;
          running_max[qi] = new_max;
        }
      }
    }
  }
  for (int r = row_begin; r < row_end; ++r) {
    for (int h = kv_head_begin; h < kv_head_end; ++h) {
      for (int g = 0; g < heads_per_kv; ++g) {
        const int qi = query_index(r, h, g);
        const float inv = softmax_normalizer(running_sum[qi], running_max[qi], sinks, h * heads_per_kv + g);
        float* o = out + static_cast<size_t>(r) * out_stride + static_cast<size_t>(h * heads_per_kv + g) * head_dim;
        const float* a = acc.data() + static_cast<size_t>(qi) * head_dim;
        for (int d = 0; d < head_dim; ++d) o[d] = a[d] * inv;
      }
    }
  }
}

struct WorkItem {
  int seq;
  int row_begin;
  int row_end;
  int kv_head_begin;
  int kv_head_end;
};

}  // namespace

float softcap_score(float x, float cap) { return cap * std::tanh(x / cap); }

void paged_attention(ThreadPool& pool, const float* query, int q_stride, const float* key_cache,
                     const float* value_cache, const AttentionBatch& batch, int num_heads, const KvLayout& layout,
                     float scale, float* out, float softcap) {
  const int heads_per_kv = num_heads / layout.num_kv_heads;
  const int out_stride = num_heads * layout.head_dim;
  int row_chunks = 0;
  for (int s = 0; s < batch.num_seqs; ++s) {
    row_chunks += (batch.query_start_loc[s + 1] - batch.query_start_loc[s] + kRowChunk - 1) / kRowChunk;
  }
  // With enough sequences, one item takes all KV heads: a block's K/V rows (all heads of a token are adjacent)
  // are then read as one contiguous run, which the hardware prefetcher streams. With few, split by head so every
  // thread has work.
  const int heads_per_item = row_chunks >= 4 * pool.size() ? layout.num_kv_heads : 1;
  std::vector<WorkItem> items;
  for (int s = 0; s < batch.num_seqs; ++s) {
    for (int r = batch.query_start_loc[s]; r < batch.query_start_loc[s + 1]; r += kRowChunk) {
      const int end = std::min(r + kRowChunk, static_cast<int>(batch.query_start_loc[s + 1]));
      for (int h = 0; h < layout.num_kv_heads; h += heads_per_item) {
        items.push_back({s, r, end, h, std::min(h + heads_per_item, layout.num_kv_heads)});
      }
    }
  }
  const bool vector = avx2_enabled() && layout.head_dim % 8 == 0;
  auto run_item = [&](int i) {
    const WorkItem& item = items[i];
    const int32_t* table = batch.block_tables + static_cast<size_t>(item.seq) * batch.max_blocks_per_seq;
    auto run = vector ? avx2::attention_item : scalar_attention_item;
    run(query, q_stride, key_cache, value_cache, batch.positions, table, item.row_begin, item.row_end,
        item.kv_head_begin, item.kv_head_end, heads_per_kv, layout, scale, out, out_stride, softcap, batch.sliding_window,
        batch.alibi_slopes, batch.sinks, batch.value_head_shift);
  };
  // A short decode context (batch 1, a few K/V blocks) is done sooner by this thread alone than split: measured at
  // 64 tokens (128 KB of K/V per layer, from memory), one thread took 13-16 us and two 26-48 at best (docs/PERFORMANCE.md).
  size_t kv_bytes = 0;
  for (const WorkItem& item : items) {
    int last = 0, first = std::numeric_limits<int>::max();
    for (int r = item.row_begin; r < item.row_end; ++r) {
      last = std::max(last, static_cast<int>(batch.positions[r]));
      first = std::min(first, first_visible_position(batch.positions[r], batch.sliding_window));
    }
    kv_bytes += static_cast<size_t>(last + 1 - first) * (item.kv_head_end - item.kv_head_begin) * layout.head_dim * 2 * sizeof(float);
  }
  if (kv_bytes < kMinParallelKvBytes) {
    for (int i = 0; i < static_cast<int>(items.size()); ++i) run_item(i);
    return;
  }
  pool.parallel_for(static_cast<int>(items.size()), run_item);
}

}  // namespace cpu
}  // namespace pagedllm
