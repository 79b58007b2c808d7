// Host side of the device prompt ranking (see device_prompt_ranker.h).
#include "device_prompt_ranker.h"

#include <cstring>
#include <vector>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "pagedllm/prompt_chunks.h"

namespace pagedllm::cuda {

namespace {

// Offsets of the answer arrays in one device buffer, doubles first (8-byte aligned).
struct RanksLayout {
  size_t logprobs, top_logprobs, ranks, top_counts, top_ids, bytes;
  RanksLayout(int n, int stride) {
    logprobs = 0;
    top_logprobs = logprobs + size_t(n) * sizeof(double);
    ranks = top_logprobs + size_t(n) * stride * sizeof(double);
    top_counts = ranks + size_t(n) * sizeof(int32_t);
    top_ids = top_counts + size_t(n) * sizeof(int32_t);
    bytes = top_ids + size_t(n) * stride * sizeof(int32_t);
  }
};

}  // namespace

void DevicePromptRanker::begin(const PromptRows& asked, int own_rows, int vocab, cudaStream_t stream) {
  own_rows_ = own_rows;
  num_entries_ = asked.num_rows;
  top_stride_ = asked.top_stride;
  vocab_ = vocab;
  active_ = true;
  if (num_entries_ == 0) return;
  // Token ids then top Ns, one upload; the pageable source is copied before cudaMemcpyAsync returns.
  std::vector<int32_t> host(asked.token_ids, asked.token_ids + num_entries_);
  host.insert(host.end(), asked.top_ns, asked.top_ns + num_entries_);
  if (inputs_.bytes() < host.size() * sizeof(int32_t)) inputs_.resize(host.size() * sizeof(int32_t));
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(inputs_.data(), host.data(), host.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));  // `host` dies here
  const RanksLayout layout(num_entries_, top_stride_);
  if (results_.bytes() < layout.bytes) results_.resize(layout.bytes);
  // Top slots past an entry's count stay 0, as in the CPU path's zeroed arrays.
  PAGEDLLM_CUDA_CHECK(cudaMemsetAsync(results_.data(), 0, layout.bytes, stream));
}

void DevicePromptRanker::rank_chunk(const float* logits, int first, int rows, cudaStream_t stream) {
  if (!active_ || num_entries_ == 0) return;
  const PromptChunk chunk = plan_prompt_chunk(own_rows_, first, rows);
  const RanksLayout layout(num_entries_, top_stride_);
  char* base = results_.as<char>();
  const PromptRanksView out{reinterpret_cast<double*>(base + layout.logprobs), reinterpret_cast<int32_t*>(base + layout.ranks),
                            reinterpret_cast<int32_t*>(base + layout.top_counts), reinterpret_cast<int32_t*>(base + layout.top_ids),
                            reinterpret_cast<double*>(base + layout.top_logprobs)};
  const int32_t* token_ids = inputs_.as<int32_t>();
  rank_prompt_rows(logits, vocab_, chunk.first_entry, chunk.num_entries, chunk.first_entry_row, token_ids, token_ids + num_entries_,
                   top_stride_, out, stream);
}

void DevicePromptRanker::finish(const PromptRowsOutput& out, cudaStream_t stream) {
  active_ = false;
  if (num_entries_ == 0) return;
  const RanksLayout layout(num_entries_, top_stride_);
  std::vector<char> host(layout.bytes);
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(host.data(), results_.data(), layout.bytes, cudaMemcpyDeviceToHost, stream));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));
  const size_t n = num_entries_, slots = n * top_stride_;
  std::memcpy(out.logprobs, host.data() + layout.logprobs, n * sizeof(double));
  std::memcpy(out.ranks, host.data() + layout.ranks, n * sizeof(int32_t));
  std::memcpy(out.top_counts, host.data() + layout.top_counts, n * sizeof(int32_t));
  std::memcpy(out.top_ids, host.data() + layout.top_ids, slots * sizeof(int32_t));
  std::memcpy(out.top_logprobs, host.data() + layout.top_logprobs, slots * sizeof(double));
}

}  // namespace pagedllm::cuda
