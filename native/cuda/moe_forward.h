// The sparse MoE MLP of one layer on the GPU (Mixtral, Qwen2-MoE with its gated shared expert, Qwen3-MoE), mirroring
// native/cpu/moe.cpp: route on the device, sort the routed slots by expert, copy the per-expert counts to the host,
// run each expert with rows as gate/up GEMM -> activation -> down GEMM over its gathered rows, combine in rank order.
#pragma once
#include <cuda_runtime.h>

#include <vector>

#include "cuda_memory.h"
#include "gemm.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

template <typename T>
struct MoeLayerWeights {
  // [num_experts, hidden] fp32 (the choice of experts is discrete; the CPU keeps the router in fp32 too), plus the
  // shared expert's gate as one more row when it has one: the router kernel gives its logit with the others.
  const float* router = nullptr;
  std::vector<const T*> gate_up;  // per expert [2 * moe_intermediate_size, hidden]: gate rows, then up rows
  std::vector<const T*> down;     // per expert [hidden, moe_intermediate_size]
  const T* shared_gate_up = nullptr;  // [2 * shared_expert_intermediate_size, hidden], or null
  const T* shared_down = nullptr;     // [hidden, shared_expert_intermediate_size]
};

template <typename T>
class MoeForward {
 public:
  MoeForward(const ModelConfig& model, cudaStream_t stream) : model_(model), stream_(stream) {}

  // out[n, hidden] (fp32) = the sparse MLP of the pre-MLP-normed rows: `normed` is the experts' bf16/fp16 input; the
  // router reads the same norm recomputed in fp32 from `residual` (norm_weight, eps; PhiMoE's LayerNorm with
  // norm_bias when model.norm_mean), as the CPU routes fp32 rows. PhiMoE routes by sparsemixer, the others by softmax
  // top-k. Synchronizes the stream once (the expert row counts come to the host), so it never runs inside a CUDA graph.
  void run(const MoeLayerWeights<T>& w, const float* residual, const float* norm_weight, float eps, const T* normed,
           int num_rows, const Gemm& gemm, float* out, const float* norm_bias = nullptr);

 private:
  void activate(const float* gate_up, int rows, int width, T* out) const;

  const ModelConfig& model_;
  cudaStream_t stream_;
  DeviceMemory scratch_;         // grow-only, laid out by pagedllm/moe_plan.h's MoeScratchPlan
  DeviceMemory gemm_workspace_;  // WMMA split-K partials, sized once the expert row counts are known
  PinnedMemory host_counts_;
};

}  // namespace pagedllm::cuda
