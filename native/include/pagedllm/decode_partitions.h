// How the decode attention cuts each row's context into partitions (a block each, then a reduce), and the key of a
// decode CUDA graph, which bakes that cut in. Plain C++ with no CUDA headers: native/cuda/decode_attention.cuh plans
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
// it was captured from, so a step may replay only a graph whose cut is its own: the key is the padded step's bucket and
// cut, and its block tables span the tokens that cut covers.
struct DecodeGraphKey {
  int bucket;
  int partition_tokens;
  int partitions;
  int covered_tokens() const { return partition_tokens * partitions; }
  bool operator<(const DecodeGraphKey& other) const {
    return std::tie(bucket, partition_tokens, partitions) < std::tie(other.bucket, other.partition_tokens, other.partitions);
  }
};

inline DecodeGraphKey decode_graph_key(int bucket, int max_context) {
  const DecodePartitions cut = decode_partitions(bucket, max_context);
  return {bucket, cut.tokens, cut.count};
}

}  // namespace pagedllm
