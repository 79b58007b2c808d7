// The mixture-of-experts kernels: router logits, softmax top-k routing, the stable counting sort of routed slots by
// expert (pagedllm/moe_plan.h's order), the gather of each expert's input rows and the weighted combine in rank order.
// Every reduction has a fixed order and the sort counts with integer atomics only, so a step gives the same bits every run.
#include "cuda_common.cuh"
#include "moe_kernels.cuh"
#include "moe_ops.h"
#include "pagedllm/moe_plan.h"

namespace pagedllm::cuda {

void moe_router_logits(const float* x, int num_rows, int hidden, const float* w, int num_outputs, float* out, cudaStream_t stream) {
  if (num_rows == 0) return;
  router_logits_kernel<<<num_rows, kRouterThreads, 0, stream>>>(x, hidden, w, num_outputs, out);  // rows on x: 2^31 - 1
  PAGEDLLM_CUDA_CHECK_LAUNCH("router_logits_kernel");
}

void moe_route(const float* logits, int logits_stride, int num_rows, int num_experts, int top_k, bool renormalize,
               int32_t* experts, float* weights, cudaStream_t stream) {
  if (num_rows == 0) return;
  route_kernel<<<ceil_div(num_rows, kRouteThreads), kRouteThreads, 0, stream>>>(logits, logits_stride, num_rows, num_experts,
                                                                                top_k, renormalize, experts, weights);
  PAGEDLLM_CUDA_CHECK_LAUNCH("route_kernel");
}

void moe_sort_slots(const int32_t* experts, int num_slots, int num_experts, int32_t* chunk_counts, int32_t* counts,
                    int32_t* offsets, int32_t* sorted_slots, int32_t* slot_positions, cudaStream_t stream) {
  const int chunks = moe_sort_chunks(num_slots);
  if (chunks > 0) {
    count_chunk_kernel<<<chunks, kSortThreads, num_experts * sizeof(int32_t), stream>>>(experts, num_slots, num_experts, chunk_counts);
    PAGEDLLM_CUDA_CHECK_LAUNCH("count_chunk_kernel");
  }
  scan_counts_kernel<<<1, kSortThreads, 0, stream>>>(chunk_counts, chunks, num_experts, counts, offsets);
  PAGEDLLM_CUDA_CHECK_LAUNCH("scan_counts_kernel");
  if (chunks > 0) {
    place_slots_kernel<<<chunks, kSortThreads, 0, stream>>>(experts, num_slots, num_experts, chunk_counts, offsets, sorted_slots,
                                                            slot_positions);
    PAGEDLLM_CUDA_CHECK_LAUNCH("place_slots_kernel");
  }
}

template <typename T>
void moe_gather_rows(const T* x, int hidden, const int32_t* sorted_slots, int num_slots, int top_k, T* out, cudaStream_t stream) {
  if (num_slots == 0) return;
  gather_rows_kernel<T><<<num_slots, kRowThreads, 0, stream>>>(x, hidden, sorted_slots, top_k, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("gather_rows_kernel");
}

void moe_combine(const float* expert_out, const int32_t* slot_positions, const float* weights, int num_rows, int top_k,
                 int hidden, const float* shared_out, const float* shared_gate, int gate_stride, float* out, cudaStream_t stream) {
  if (num_rows == 0) return;
  const dim3 grid(num_rows, ceil_div(hidden, kRowThreads));
  combine_kernel<<<grid, kRowThreads, 0, stream>>>(expert_out, slot_positions, weights, top_k, hidden, shared_out, shared_gate,
                                                   gate_stride, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("combine_kernel");
}

template void moe_gather_rows<__half>(const __half*, int, const int32_t*, int, int, __half*, cudaStream_t);
template void moe_gather_rows<__nv_bfloat16>(const __nv_bfloat16*, int, const int32_t*, int, int, __nv_bfloat16*, cudaStream_t);

}  // namespace pagedllm::cuda
