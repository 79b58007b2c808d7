// Decode-step CUDA graphs: bucketed padding of decode batches, capture on first use, replay after (vLLM-style).
#include "decode_graphs.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {
std::atomic<bool> graphs_enabled{true};
// Enough for every bucket at a spread of context lengths; past it the cache starts over rather than grow.
constexpr size_t kMaxGraphs = 96;
}  // namespace

void set_cuda_graphs_enabled(bool enabled) { graphs_enabled = enabled; }
bool cuda_graphs_enabled() { return graphs_enabled; }

int decode_bucket(int num_seqs) {
  if (num_seqs <= 0 || num_seqs > kMaxDecodeBucket) return 0;
  int bucket = 1;
  while (bucket < num_seqs) bucket *= 2;
  return bucket;
}

void PaddedDecodeBatch::fill(const ForwardBatch& batch, const DecodeGraphKey& key, int block_size) {
  const int n = batch.num_seqs, bucket = key.bucket;
  const int stride = ceil_div(key.covered_tokens(), block_size);
  token_ids_.assign(bucket, 0);
  positions_.assign(bucket, 0);
  slots_.assign(bucket, -1);
  context_lens_.assign(bucket, 1);
  block_tables_.assign(size_t(bucket) * stride, 0);
  query_start_.resize(bucket + 1);
  logits_indices_.resize(bucket);
  for (int r = 0; r <= bucket; ++r) query_start_[r] = r;
  for (int r = 0; r < bucket; ++r) logits_indices_[r] = r;
  std::copy(batch.token_ids, batch.token_ids + n, token_ids_.begin());
  std::copy(batch.positions, batch.positions + n, positions_.begin());
  std::copy(batch.slot_mapping, batch.slot_mapping + n, slots_.begin());
  std::copy(batch.context_lens, batch.context_lens + n, context_lens_.begin());
  for (int s = 0; s < n; ++s) {
    const int used = ceil_div(batch.context_lens[s], block_size);  // <= stride: the band covers the longest context
    std::copy(batch.block_tables + int64_t(s) * batch.max_blocks_per_seq,
              batch.block_tables + int64_t(s) * batch.max_blocks_per_seq + used, block_tables_.begin() + int64_t(s) * stride);
  }
  padded_ = ForwardBatch{};
  padded_.num_tokens = padded_.num_seqs = padded_.num_logits = bucket;
  padded_.max_blocks_per_seq = stride;
  padded_.token_ids = token_ids_.data();
  padded_.positions = positions_.data();
  padded_.slot_mapping = slots_.data();
  padded_.query_start_loc = query_start_.data();
  padded_.context_lens = context_lens_.data();
  padded_.block_tables = block_tables_.data();
  padded_.logits_indices = logits_indices_.data();
}

void DecodeGraphs::run(const Key& key, cudaStream_t stream, const std::function<void()>& enqueue) {
  auto found = graphs_.find(key);
  if (!failed_.empty() || (found == graphs_.end() && warmed_.insert(key).second)) {
    enqueue();
    return;
  }
  if (found == graphs_.end()) {
    if (graphs_.size() >= kMaxGraphs) clear();
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t status = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    if (status == cudaSuccess) {
      try {
        enqueue();
      } catch (const std::exception& error) {
        failed_ = error.what();
      }
      status = cudaStreamEndCapture(stream, &graph);  // also ends an invalidated capture: the stream stays usable
    }
    if (status == cudaSuccess && failed_.empty()) status = cudaGraphInstantiate(&exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (status != cudaSuccess || !failed_.empty()) {
      if (failed_.empty()) failed_ = cudaGetErrorString(status);
      cudaGetLastError();  // capture errors are not sticky; clear the last-error slot for the eager run
      std::fprintf(stderr, "pagedllm: CUDA graph capture failed (%s); decode steps run eagerly from now on\n", failed_.c_str());
      clear();
      enqueue();
      return;
    }
    found = graphs_.emplace(key, exec).first;
  }
  PAGEDLLM_CUDA_CHECK(cudaGraphLaunch(found->second, stream));
}

void DecodeGraphs::clear() {
  for (auto& entry : graphs_) cudaGraphExecDestroy(entry.second);
  graphs_.clear();
  warmed_.clear();
}

}  // namespace pagedllm::cuda
