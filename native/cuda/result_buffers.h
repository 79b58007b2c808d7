// Host side shared by the device sampler and the prompt ranker: uploads of host vectors, and each entry's small answers
// (a logprob, a token id or rank, a top count and top_stride (id, logprob) slots) in one device buffer, copied back at once.
#pragma once
#include <cstring>
#include <vector>

#include "cuda_common.cuh"
#include "cuda_memory.h"

namespace pagedllm::cuda {

// Copies `values` into `memory` (grown to fit); waits for the copy, as `values` is the caller's pageable memory.
template <typename T>
void upload_vector(DeviceMemory& memory, const std::vector<T>& values, cudaStream_t stream) {
  if (values.empty()) return;
  if (memory.bytes() < values.size() * sizeof(T)) memory.resize(values.size() * sizeof(T));
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(memory.data(), values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));
}

// Offsets of the answer arrays of n entries in one buffer, doubles first (8-byte aligned).
struct ResultLayout {
  size_t logprobs, top_logprobs, ints, counts, top_ids, bytes;  // ints: token ids (sampler) or ranks (prompt ranker)
  ResultLayout(int n, int stride) {
    logprobs = 0;
    top_logprobs = logprobs + size_t(n) * sizeof(double);
    ints = top_logprobs + size_t(n) * stride * sizeof(double);
    counts = ints + size_t(n) * sizeof(int32_t);
    top_ids = counts + size_t(n) * sizeof(int32_t);
    bytes = top_ids + size_t(n) * stride * sizeof(int32_t);
  }
};

// Where the arrays are, on the device (a view of the buffer) or on the host (the caller's outputs).
struct ResultArrays {
  double* logprobs;
  int32_t* ints;
  int32_t* counts;
  int32_t* top_ids;
  double* top_logprobs;
};

inline ResultArrays result_arrays(const DeviceMemory& results, const ResultLayout& layout) {
  char* base = results.as<char>();
  return {reinterpret_cast<double*>(base + layout.logprobs), reinterpret_cast<int32_t*>(base + layout.ints),
          reinterpret_cast<int32_t*>(base + layout.counts), reinterpret_cast<int32_t*>(base + layout.top_ids),
          reinterpret_cast<double*>(base + layout.top_logprobs)};
}

// Copies n entries' answers (stride top slots each) out of `results` into `out` (synchronizes the stream).
inline void download_results(const DeviceMemory& results, int n, int stride, const ResultArrays& out, cudaStream_t stream) {
  const ResultLayout layout(n, stride);
  std::vector<char> host(layout.bytes);
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(host.data(), results.data(), layout.bytes, cudaMemcpyDeviceToHost, stream));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));
  const size_t slots = size_t(n) * stride;
  std::memcpy(out.logprobs, host.data() + layout.logprobs, size_t(n) * sizeof(double));
  std::memcpy(out.ints, host.data() + layout.ints, size_t(n) * sizeof(int32_t));
  std::memcpy(out.counts, host.data() + layout.counts, size_t(n) * sizeof(int32_t));
  std::memcpy(out.top_ids, host.data() + layout.top_ids, slots * sizeof(int32_t));
  std::memcpy(out.top_logprobs, host.data() + layout.top_logprobs, slots * sizeof(double));
}

}  // namespace pagedllm::cuda
