// How the decode attention cuts each row's context into partitions (a block each, then a reduce), and the key of a
// decode CUDA graph, which bakes a cut in. Plain C++ with no CUDA headers: native/cuda/decode_attention.cuh plans
// its launches with it, cuda_backend.cu keys its graphs with it, and the CPU build's tests check both
// (ops.decodePartitions, ops.decodeGraphKey).
#pragma once
#include <tuple>

namespace pagedllm {

// A row's context is cut in partitions of 256 tokens (finer for small grids, coarser for big ones), one block each.
constexpr int kDecodePartitionTokens = 256;

inline int decode_ceil_div(int a, int b) { return (a + b - 1) / b; }

struct DecodePartitions {
  int tokens;  // context tokens per partition
  int count;   // partitions of the longest context; 1: the block writes the output itself, no reduce
};

// Few rows with short contexts would leave most of the GPU idle (batch 1 at 512 tokens: 2 partitions), so partitions
// are cut into 2 or 4 until rows x partitions reaches 32. Many rows fill the GPU anyway: there partitions of 512 tokens
// halve the blocks' fixed costs (query load, merges) and, up to 512 tokens, leave no reduce to run.
inline DecodePartitions decode_partitions(int num_rows, int max_kv_len) {
  const int coarse = max_kv_len > kDecodePartitionTokens ? decode_ceil_div(max_kv_len, kDecodePartitionTokens) : 1;
  int tokens = 2 * kDecodePartitionTokens;
  if (num_rows * coarse < 256) {
    int cut = 1;
    while (cut < 4 && num_rows * coarse * cut < 32) cut *= 2;
    tokens = kDecodePartitionTokens / cut;
  }
  return {tokens, max_kv_len > tokens ? decode_ceil_div(max_kv_len, tokens) : 1};
}

// A replayed graph runs the attention launch (grid, partition size, workspace) and the block-table stride of the step
// it was captured from, so every step that replays a graph must fit that launch. A graph's key is its bucket and its
// band of contexts (whole 256-token partitions), and a graph step plans its attention for the band's end, not for its
// own longest context: the cut depends on the band alone, and partitions past a row's context are launched and skipped.
// (Planning for the step's own context let a graph captured at 64 tokens, in one 64-token partition, replay at 65.)
struct DecodeGraphKey {
  int bucket;
  int bands;  // 256-token partitions of the longest context
  int covered_tokens() const { return bands * kDecodePartitionTokens; }
  bool operator<(const DecodeGraphKey& other) const { return std::tie(bucket, bands) < std::tie(other.bucket, other.bands); }
};

inline DecodeGraphKey decode_graph_key(int bucket, int max_context) {
  return {bucket, decode_ceil_div(max_context > 0 ? max_context : 1, kDecodePartitionTokens)};
}

}  // namespace pagedllm
