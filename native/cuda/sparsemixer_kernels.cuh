// PhiMoE's sparsemixer routing kernel (sparsemixer_kernels.cu launches it). Device code that leans only on its includer
// (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in emulation/sparsemixer.cpp); in an unnamed
// namespace, as when it lived in the .cu, for the one file that launches it.
#pragma once
#include <cstdint>

namespace pagedllm::cuda {

namespace {

constexpr int kSparsemixerThreads = 128;  // one row per thread: a handful of experts each

// The best expert other than `skip` (-1: none): strictly greater wins, so equal logits go to the lower index (a NaN
// never wins, so the pick is always a valid expert, as the CPU's).
__device__ int best_expert(const float* logits, int num_experts, int skip) {
  int best = -1;
  for (int e = 0; e < num_experts; ++e)
    if (e != skip && (best < 0 || logits[e] > logits[best])) best = e;
  return best;
}

// 1 / the sum of exp(logit - top) over the experts kept: masked when (top - logit) / max(|logit|, top) > threshold,
// and `skip` always. Rounded fp32 steps (no fast-math contraction or approximate division) and exp taken in double then
// rounded, so the mask and the weight are the CPU's own.
__device__ float masked_softmax_weight(const float* logits, int num_experts, int chosen, int skip, float threshold) {
  const float top = logits[chosen];
  float sum = 0.f;
  for (int e = 0; e < num_experts; ++e) {
    if (e == skip) continue;
    const float magnitude = fabsf(logits[e]), factor = magnitude < top ? top : magnitude;  // std::max's rule, NaN included
    if (__fdiv_rn(__fsub_rn(top, logits[e]), factor) > threshold) continue;
    sum = __fadd_rn(sum, float(exp(double(__fsub_rn(logits[e], top)))));
  }
  return __fdiv_rn(1.f, sum);
}

__global__ void __launch_bounds__(kSparsemixerThreads) sparsemixer_kernel(const float* __restrict__ logits, int logits_stride, int num_rows,
                                                                          int num_experts, float threshold, int32_t* __restrict__ experts,
                                                                          float* __restrict__ weights) {
  const int r = blockIdx.x * kSparsemixerThreads + threadIdx.x;
  if (r >= num_rows) return;
  const float* row = logits + int64_t(r) * logits_stride;
  const int first = best_expert(row, num_experts, -1), second = best_expert(row, num_experts, first);
  experts[2 * int64_t(r)] = first;
  experts[2 * int64_t(r) + 1] = second;
  weights[2 * int64_t(r)] = masked_softmax_weight(row, num_experts, first, -1, threshold);
  weights[2 * int64_t(r) + 1] = masked_softmax_weight(row, num_experts, second, first, threshold);
}

}  // namespace

}  // namespace pagedllm::cuda
