// The CUDA backend's host-side split of a step's attention rows (native/cuda/prefill_attention_kernels.cu runs the
// tiles, attention_kernels.cu the decode rows). Plain C++ with no CUDA headers, so every build has it and the CPU
// build's tests check it (ops.splitAttentionRows).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace pagedllm {

constexpr int kPrefillTileRows = 16;  // query rows sharing one K/V tile

// The per-row decode kernel reads a token's head in 16-byte loads (8 bf16/fp16 values); other head_dims take the tiled
// kernel only.
inline bool attention_tiles_only(int head_dim) { return head_dim % 8 != 0; }

// Decode row indices, prefill tiles and the longest decode context.
struct AttentionSplit {
  std::vector<int32_t> decode_rows;
  std::vector<int32_t> prefill_tiles;  // (first row, rows) pairs
  int max_decode_kv_len = 0;
};

// Sequences with one query row are decode rows; longer chunks are cut into tiles of kPrefillTileRows consecutive rows.
// With tiles_only every sequence's rows become tiles, a decode row a tile of one, and there are no decode rows.
inline AttentionSplit split_attention_rows(const int32_t* query_start_loc, const int32_t* context_lens, int num_seqs,
                                           bool tiles_only = false) {
  AttentionSplit split;
  for (int s = 0; s < num_seqs; ++s) {
    const int begin = query_start_loc[s], end = query_start_loc[s + 1];
    if (end - begin == 1 && !tiles_only) {
      split.decode_rows.push_back(begin);
      split.max_decode_kv_len = std::max(split.max_decode_kv_len, int(context_lens[s]));
      continue;
    }
    for (int first = begin; first < end; first += kPrefillTileRows) {
      split.prefill_tiles.push_back(first);
      split.prefill_tiles.push_back(std::min(kPrefillTileRows, end - first));
    }
  }
  return split;
}

}  // namespace pagedllm
