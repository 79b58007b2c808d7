// CUDA graphs of the decode forward pass, one per (batch bucket, 256-token band of the longest context): capture once,
// then replay.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pagedllm/backend.h"
#include "pagedllm/decode_partitions.h"

namespace pagedllm::cuda {

// Process-wide switch set from JS before a model loads (--enforce-eager turns graphs off), like the GEMM setting.
void set_cuda_graphs_enabled(bool enabled);
bool cuda_graphs_enabled();

constexpr int kMaxDecodeBucket = 256;  // = kLogitsChunkRows: a bucket's logits fit one LM-head chunk
// The padded batch size for `num_seqs` decode rows: 1, 2, 4, ..., 256; 0 when larger.
int decode_bucket(int num_seqs);

// A decode-only step padded to its bucket: padding rows decode token 0 at position 0 of a one-token context in
// block 0, write no KV (slot -1) and give logits nobody reads. Block tables get a fixed stride (a graph bakes it in).
class PaddedDecodeBatch {
 public:
  // Fills from `batch` (every sequence one query row), padded to key.bucket; stride = blocks of key.covered_tokens().
  void fill(const ForwardBatch& batch, const DecodeGraphKey& key, int block_size);
  const ForwardBatch& batch() const { return padded_; }

 private:
  std::vector<int32_t> token_ids_, positions_, slots_, query_start_, context_lens_, block_tables_, logits_indices_;
  ForwardBatch padded_;
};

// Instantiated graphs by key. Anything a graph baked in (scratch or index buffer addresses) invalidates them all:
// the backend calls clear() whenever it reallocates those buffers.
class DecodeGraphs {
 public:
  using Key = DecodeGraphKey;
  ~DecodeGraphs() { clear(); }
  // The first time a key is seen `enqueue` runs eagerly (it may size buffers); the second time it is captured (all
  // work on `stream`, no allocation, no sync) and replayed; after that only replayed.
  // A capture that fails (a launch the driver refuses to capture, say) turns graphs off for good: the step then runs
  // eagerly, and failed() says why.
  void run(const Key& key, cudaStream_t stream, const std::function<void()>& enqueue);
  void clear();
  const std::string& failed() const { return failed_; }
  size_t size() const { return graphs_.size(); }

 private:
  std::map<Key, cudaGraphExec_t> graphs_;
  std::set<Key> warmed_;
  std::string failed_;
};

}  // namespace pagedllm::cuda
