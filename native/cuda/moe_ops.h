// Host-side launchers of the mixture-of-experts kernels (moe_kernels.cu), used by moe_forward.cu and the kernel checks.
// They mirror native/cpu/moe.cpp: fp32 router, softmax then top-k (ties: the lower expert first), the k weights in
// rank order (divided by their sum when renormalising), and the weighted sum of a row's experts in rank order.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace pagedllm::cuda {

// out[r, e] = x[r, :] . w[e, :] for e < num_outputs, all fp32 (the router keeps fp32 weights, as the CPU does; the
// shared expert's gate rides along as one more output row). One warp per output, a fixed reduction order.
void moe_router_logits(const float* x, int num_rows, int hidden, const float* w, int num_outputs, float* out, cudaStream_t stream);

// Per row of logits (row stride logits_stride): softmax over num_experts in fp32, the top_k probabilities by repeated
// selection (strictly greater wins, so equal values go to the lower index first) into experts / weights
// [num_rows, top_k] in rank order, divided by their sum (added in rank order) when renormalize.
void moe_route(const float* logits, int logits_stride, int num_rows, int num_experts, int top_k, bool renormalize,
               int32_t* experts, float* weights, cudaStream_t stream);

// PhiMoE's sparsemixer (sparsemixer_kernels.cu), as native/cpu/sparsemixer.cpp: two experts per row in rank order into
// experts / weights [num_rows, 2], each weighted by its own masked softmax (jitter_eps: router_jitter_noise).
void sparsemixer_route(const float* logits, int logits_stride, int num_rows, int num_experts, double jitter_eps, int32_t* experts,
                       float* weights, cudaStream_t stream);

// The stable counting sort of pagedllm/moe_plan.h (moe_sort_slots) on the device: sorted_slots, slot_positions and
// counts[num_experts] as the host function gives them. chunk_counts holds moe_sort_chunks(num_slots) x num_experts
// ints and offsets num_experts ints (the exclusive scan of counts).
void moe_sort_slots(const int32_t* experts, int num_slots, int num_experts, int32_t* chunk_counts, int32_t* counts,
                    int32_t* offsets, int32_t* sorted_slots, int32_t* slot_positions, cudaStream_t stream);

// out[i, :] = x[sorted_slots[i] / top_k, :]: each expert's input rows, contiguous in sorted order.
template <typename T>
void moe_gather_rows(const T* x, int hidden, const int32_t* sorted_slots, int num_slots, int top_k, T* out, cudaStream_t stream);

// out[r, :] = sum over ranks j in order of weights[r, j] * expert_out[slot_positions[r * top_k + j], :], each product
// rounded before it is added (as the CPU and transformers' weight * output, then index_add_), then plus
// gate_r * shared_out[r, :] when shared_out is given: gate_r = sigmoid(shared_gate[r * gate_stride]), or 1 when
// shared_gate is null (an ungated shared expert). No atomics: the same bits every run.
void moe_combine(const float* expert_out, const int32_t* slot_positions, const float* weights, int num_rows, int top_k,
                 int hidden, const float* shared_out, const float* shared_gate, int gate_stride, float* out, cudaStream_t stream);

}  // namespace pagedllm::cuda
