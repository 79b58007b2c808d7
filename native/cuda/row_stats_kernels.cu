// Sampling support on the device: per logits row the max, argmax, log-sum-exp and top-k candidates, so a sampler
// can pick tokens (greedy, top-k, logprobs) from a few numbers per row instead of the full vocabulary row.
#include <cfloat>
#include <climits>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {

constexpr int kThreads = 256;

// Candidate order: higher value first, lower id on ties; `before` says whether a precedes b.
__device__ __forceinline__ bool before(float a_value, int a_id, float b_value, int b_id) {
  return a_value > b_value || (a_value == b_value && a_id < b_id);
}

// Block-wide best candidate among those strictly after (bound_value, bound_id) in candidate order.
__device__ void block_best_after(const float* row, int vocab, float bound_value, int bound_id, bool bounded,
                                 float* best_value, int* best_id, float* s_values, int* s_ids) {
  float value = -INFINITY;
  int id = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    const float v = row[i];
    if (bounded && !before(bound_value, bound_id, v, i)) continue;
    if (id == INT_MAX || before(v, i, value, id)) {
      value = v;
      id = i;
    }
  }
  s_values[threadIdx.x] = value;
  s_ids[threadIdx.x] = id;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float other_value = s_values[threadIdx.x + stride];
      const int other_id = s_ids[threadIdx.x + stride];
      if (other_id != INT_MAX && (s_ids[threadIdx.x] == INT_MAX || before(other_value, other_id, s_values[threadIdx.x], s_ids[threadIdx.x]))) {
        s_values[threadIdx.x] = other_value;
        s_ids[threadIdx.x] = other_id;
      }
    }
    __syncthreads();
  }
  *best_value = s_values[0];
  *best_id = s_ids[0];
  __syncthreads();  // s_values is reused by the next call
}

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
    row_argmax[blockIdx.x] = best_id;
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
