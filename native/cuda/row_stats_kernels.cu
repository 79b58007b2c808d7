// Sampling support on the device: per logits row the max, argmax, log-sum-exp and top-k candidates, so a sampler
// can pick tokens (greedy, top-k, logprobs) from a few numbers per row instead of the full vocabulary row.
#include <cfloat>
#include <climits>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "row_select.cuh"

namespace pagedllm::cuda {

namespace {

constexpr int kThreads = kRowThreads;

// One block per row. Top-k takes k passes over the row (each the next candidate in order): k is small
// (logprobs, top-k sampling) and a 128K-float row stays in L2 between passes.
__global__ void __launch_bounds__(kThreads)
    logits_row_stats_kernel(const float* __restrict__ logits, int vocab, int top_k, float* __restrict__ row_max,
                            int32_t* __restrict__ row_argmax, float* __restrict__ row_logsumexp,
                            float* __restrict__ topk_values, int32_t* __restrict__ topk_ids) {
  __shared__ float s_values[kThreads];
  __shared__ int s_ids[kThreads];
  __shared__ float scratch[32];
  const float* row = logits + int64_t(blockIdx.x) * vocab;
  float best_value;
  int best_id;
  block_best_after(row, vocab, 0.f, 0, false, &best_value, &best_id, s_values, s_ids);
  float sum = 0.f;
  for (int i = threadIdx.x; i < vocab; i += kThreads) sum += __expf(row[i] - best_value);
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) {
    row_max[blockIdx.x] = best_value;
    row_argmax[blockIdx.x] = best_id == INT_MAX ? 0 : best_id;  // a row all NaN: 0, as the CPU's row_stats
    row_logsumexp[blockIdx.x] = best_value + logf(sum);
  }
  if (top_k <= 0) return;
  float* values_out = topk_values + int64_t(blockIdx.x) * top_k;
  int32_t* ids_out = topk_ids + int64_t(blockIdx.x) * top_k;
  for (int j = 0; j < top_k; ++j) {
    if (j > 0) block_best_after(row, vocab, best_value, best_id, true, &best_value, &best_id, s_values, s_ids);
    if (threadIdx.x == 0) {
      values_out[j] = best_id == INT_MAX ? -INFINITY : best_value;
      ids_out[j] = best_id == INT_MAX ? -1 : best_id;
    }
  }
}

}  // namespace

void logits_row_stats(const float* logits, int num_rows, int vocab, int top_k, float* row_max, int32_t* row_argmax,
                      float* row_logsumexp, float* topk_values, int32_t* topk_ids, cudaStream_t stream) {
  if (num_rows == 0) return;
  if (top_k > kMaxTopK) throw std::runtime_error("logits_row_stats: top_k above 64");
  logits_row_stats_kernel<<<num_rows, kThreads, 0, stream>>>(logits, vocab, top_k, row_max, row_argmax, row_logsumexp,
                                                             topk_values, topk_ids);
  PAGEDLLM_CUDA_CHECK_LAUNCH("logits_row_stats_kernel");
}

}  // namespace pagedllm::cuda
