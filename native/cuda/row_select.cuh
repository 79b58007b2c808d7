// Block-wide selection over one logits row, in candidate order (higher value first, lower id on ties; NaN never a
// candidate, as the CPU's row_stats and top_logprobs skip it): row_stats_kernels.cu's max and top-k, and the prompt
// ranking's top-N (prompt_ranking_kernels.cu).
#pragma once
#include <climits>
#include <cmath>

#include "cuda_common.cuh"

namespace pagedllm::cuda {

constexpr int kRowThreads = 256;  // the block size of every kernel calling block_best_after

// Whether (a_value, a_id) precedes (b_value, b_id) in candidate order.
__device__ __forceinline__ bool before(float a_value, int a_id, float b_value, int b_id) {
  return a_value > b_value || (a_value == b_value && a_id < b_id);
}

// The block's best candidate strictly after (bound_value, bound_id) when `bounded`, else the best of the row; id INT_MAX
// (value -inf) when none is left. s_values / s_ids: kRowThreads each, in shared memory.
__device__ inline void block_best_after(const float* row, int vocab, float bound_value, int bound_id, bool bounded,
                                        float* best_value, int* best_id, float* s_values, int* s_ids) {
  float value = -INFINITY;
  int id = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += kRowThreads) {
    const float v = row[i];
    if (isnan(v) || (bounded && !before(bound_value, bound_id, v, i))) continue;
    if (id == INT_MAX || before(v, i, value, id)) {
      value = v;
      id = i;
    }
  }
  s_values[threadIdx.x] = value;
  s_ids[threadIdx.x] = id;
  __syncthreads();
  for (int stride = kRowThreads / 2; stride > 0; stride >>= 1) {
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

}  // namespace pagedllm::cuda
