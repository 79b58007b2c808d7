// The mixture-of-experts kernels (moe_kernels.cu launches them): router logits, softmax top-k routing, the stable
// counting sort of routed slots by expert, the gather of each expert's input rows and the weighted combine. Device code
// that leans only on its includer (cuda_common.cuh, or emulation/cuda_emulation.h, which runs it on the CPU in
// emulation/moe.cpp); in an unnamed namespace, as when they lived in the .cu, for the one file that launches them.
#pragma once
#include <cstdint>

#include "pagedllm/moe_plan.h"

namespace pagedllm::cuda {

namespace {

constexpr int kRouterThreads = 256;  // 8 warps, one output at a time each
constexpr int kRouteThreads = 128;   // one row per thread
constexpr int kSortThreads = 256;
constexpr int kRowThreads = 256;

__global__ void __launch_bounds__(kRouterThreads) router_logits_kernel(const float* __restrict__ x, int hidden,
                                                                         const float* __restrict__ w, int num_outputs,
                                                                         float* __restrict__ out) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* row = x + int64_t(blockIdx.x) * hidden;
  for (int e = warp; e < num_outputs; e += kRouterThreads / 32) {
    const float* weights = w + int64_t(e) * hidden;
    float sum = 0.f;
    for (int h = lane; h < hidden; h += 32) sum += row[h] * weights[h];
    sum = warp_sum(sum);
    if (lane == 0) out[int64_t(blockIdx.x) * num_outputs + e] = sum;
  }
}

// One row per thread, as native/cpu/moe.cpp's moe_route: max, the sum of exp(x - max) in expert order, each probability
// exp(x - max) / sum. The k picks walk the order (probability descending, index ascending) without a taken list: pick
// j is the best expert strictly after pick j - 1 in that order, which is the CPU's "strictly greater among the rest".
__global__ void __launch_bounds__(kRouteThreads) route_kernel(const float* __restrict__ logits, int logits_stride,
                                                                int num_rows, int num_experts, int top_k, bool renormalize,
                                                                int32_t* __restrict__ experts, float* __restrict__ weights) {
  const int r = blockIdx.x * kRouteThreads + threadIdx.x;
  if (r >= num_rows) return;
  const float* row = logits + int64_t(r) * logits_stride;
  float max = row[0];
  for (int e = 1; e < num_experts; ++e) max = fmaxf(max, row[e]);
  float sum = 0.f;
  for (int e = 0; e < num_experts; ++e) sum = __fadd_rn(sum, expf(row[e] - max));
  int32_t* chosen = experts + int64_t(r) * top_k;
  float* chosen_weight = weights + int64_t(r) * top_k;
  float previous = 0.f, chosen_sum = 0.f;
  int previous_expert = -1;
  for (int k = 0; k < top_k; ++k) {
    int best = -1;
    float best_prob = 0.f;
    for (int e = 0; e < num_experts; ++e) {
      float prob = __fdiv_rn(expf(row[e] - max), sum);  // the same instructions every time: the same bits
      // NaN (a NaN or infinite logit) ranks below every probability, so each pick is still a distinct valid expert:
      // an out-of-range id would write outside the sort's counts and leave the CUDA context unusable.
      if (!(prob >= 0.f)) prob = -1.f;
      const bool after = previous_expert < 0 || prob < previous || (prob == previous && e > previous_expert);
      if (after && (best < 0 || prob > best_prob)) {
        best = e;
        best_prob = prob;
      }
    }
    chosen[k] = best;
    chosen_weight[k] = best_prob;
    chosen_sum = __fadd_rn(chosen_sum, best_prob);
    previous = best_prob;
    previous_expert = best;
  }
  if (renormalize)
    for (int k = 0; k < top_k; ++k) chosen_weight[k] = __fdiv_rn(chosen_weight[k], chosen_sum);
}

// Per chunk of kMoeSortChunkSlots slots: how many go to each expert (integer atomics in shared memory: exact).
__global__ void __launch_bounds__(kSortThreads) count_chunk_kernel(const int32_t* __restrict__ experts, int num_slots,
                                                                     int num_experts, int32_t* __restrict__ chunk_counts) {
  PAGEDLLM_DYNAMIC_SHARED(int32_t, counts);
  for (int e = threadIdx.x; e < num_experts; e += kSortThreads) counts[e] = 0;
  __syncthreads();
  const int begin = blockIdx.x * kMoeSortChunkSlots, end = min(begin + kMoeSortChunkSlots, num_slots);
  for (int s = begin + threadIdx.x; s < end; s += kSortThreads) atomicAdd(&counts[experts[s]], 1);
  __syncthreads();
  for (int e = threadIdx.x; e < num_experts; e += kSortThreads) chunk_counts[int64_t(blockIdx.x) * num_experts + e] = counts[e];
}

// One block: each expert's chunk counts become the chunk's first place among that expert's slots; counts[e] the total;
// then offsets = the exclusive scan of the counts in expert order.
__global__ void __launch_bounds__(kSortThreads) scan_counts_kernel(int32_t* __restrict__ chunk_counts, int num_chunks,
                                                                     int num_experts, int32_t* __restrict__ counts,
                                                                     int32_t* __restrict__ offsets) {
  for (int e = threadIdx.x; e < num_experts; e += kSortThreads) {
    int32_t running = 0;
    for (int c = 0; c < num_chunks; ++c) {
      const int32_t here = chunk_counts[int64_t(c) * num_experts + e];
      chunk_counts[int64_t(c) * num_experts + e] = running;
      running += here;
    }
    counts[e] = running;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t first = 0;
    for (int e = 0; e < num_experts; ++e) {
      offsets[e] = first;
      first += counts[e];
    }
  }
}

// Per chunk, each expert's thread walks the chunk's slots in order and places its own: the stable order by slot.
__global__ void __launch_bounds__(kSortThreads) place_slots_kernel(const int32_t* __restrict__ experts, int num_slots,
                                                                     int num_experts, const int32_t* __restrict__ chunk_counts,
                                                                     const int32_t* __restrict__ offsets,
                                                                     int32_t* __restrict__ sorted_slots,
                                                                     int32_t* __restrict__ slot_positions) {
  __shared__ int32_t ids[kMoeSortChunkSlots];
  const int begin = blockIdx.x * kMoeSortChunkSlots, length = min(kMoeSortChunkSlots, num_slots - begin);
  for (int i = threadIdx.x; i < length; i += kSortThreads) ids[i] = experts[begin + i];
  __syncthreads();
  for (int e = threadIdx.x; e < num_experts; e += kSortThreads) {
    int32_t at = offsets[e] + chunk_counts[int64_t(blockIdx.x) * num_experts + e];
    for (int i = 0; i < length; ++i)
      if (ids[i] == e) {
        sorted_slots[at] = begin + i;
        slot_positions[begin + i] = at;
        ++at;
      }
  }
}

template <typename T>
__global__ void __launch_bounds__(kRowThreads) gather_rows_kernel(const T* __restrict__ x, int hidden,
                                                                    const int32_t* __restrict__ sorted_slots, int top_k,
                                                                    T* __restrict__ out) {
  const T* src = x + int64_t(sorted_slots[blockIdx.x] / top_k) * hidden;
  T* dst = out + int64_t(blockIdx.x) * hidden;
  for (int h = threadIdx.x; h < hidden; h += kRowThreads) dst[h] = src[h];
}

// Grid (row, chunk of kRowThreads columns). _rn intrinsics: no FMA contraction, each product rounded as on the CPU.
__global__ void __launch_bounds__(kRowThreads) combine_kernel(const float* __restrict__ expert_out,
                                                                const int32_t* __restrict__ slot_positions,
                                                                const float* __restrict__ weights, int top_k, int hidden,
                                                                const float* __restrict__ shared_out,
                                                                const float* __restrict__ shared_gate, int gate_stride,
                                                                float* __restrict__ out) {
  const int r = blockIdx.x, h = blockIdx.y * kRowThreads + threadIdx.x;
  if (h >= hidden) return;
  float sum = 0.f;
  for (int k = 0; k < top_k; ++k) {
    const int64_t slot = int64_t(r) * top_k + k;
    sum = __fadd_rn(sum, __fmul_rn(weights[slot], expert_out[int64_t(slot_positions[slot]) * hidden + h]));
  }
  if (shared_out != nullptr) {
    const float gate = shared_gate == nullptr ? 1.f : __fdiv_rn(1.f, __fadd_rn(1.f, expf(-shared_gate[int64_t(r) * gate_stride])));
    sum = __fadd_rn(sum, __fmul_rn(gate, shared_out[int64_t(r) * hidden + h]));
  }
  out[int64_t(r) * hidden + h] = sum;
}

}  // namespace

}  // namespace pagedllm::cuda
