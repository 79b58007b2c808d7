// One sparse layer's MLP on the GPU: the device routes and sorts, the host reads the per-expert counts (one small copy
// and one synchronize per layer) and launches each expert's GEMMs over its gathered rows, the device combines.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "layernorm_family_ops.h"
#include "moe_forward.h"
#include "moe_ops.h"
#include "pagedllm/moe_plan.h"

namespace pagedllm::cuda {

namespace {

template <typename E>
E* scratch_at(char* base, size_t offset) {
  return reinterpret_cast<E*>(base + offset);
}

}  // namespace

template <typename T>
void MoeForward<T>::activate(const float* gate_up, int rows, int width, T* out) const {
  gated_and_mul(model_.hidden_act, gate_up, rows, width, out, stream_);
}

template <typename T>
void MoeForward<T>::run(const MoeLayerWeights<T>& w, const float* residual, const float* norm_weight, float eps, const T* normed,
                        int n, const Gemm& gemm, float* out, const float* norm_bias) {
  const int H = model_.hidden_size, E = model_.num_experts, k = model_.num_experts_per_tok;
  const int inter = model_.moe_intermediate_size, shared = model_.shared_expert_intermediate_size;
  const int router_rows = moe_router_rows(E, shared, model_.shared_expert_gated), slots = n * k;
  const MoeScratchPlan plan(n, H, E, k, inter, shared, model_.shared_expert_gated, sizeof(T));
  if (scratch_.bytes() < plan.total) {
    PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));  // an earlier layer's kernels may still read the old buffer
    scratch_.resize(plan.total + plan.total / 2);         // headroom: fewer reallocations (as the backend's scratch)
  }
  char* base = scratch_.as<char>();
  float* x_float = scratch_at<float>(base, plan.x_float);
  float* logits = scratch_at<float>(base, plan.logits);
  int32_t* experts = scratch_at<int32_t>(base, plan.experts);
  float* weights = scratch_at<float>(base, plan.weights);
  int32_t* counts = scratch_at<int32_t>(base, plan.counts);
  int32_t* sorted = scratch_at<int32_t>(base, plan.sorted);
  int32_t* positions = scratch_at<int32_t>(base, plan.positions);
  T* gathered = scratch_at<T>(base, plan.gathered);
  float* gate_up = scratch_at<float>(base, plan.gate_up);
  T* activated = scratch_at<T>(base, plan.activated);
  float* expert_out = scratch_at<float>(base, plan.expert_out);
  float* shared_out = scratch_at<float>(base, plan.shared_out);

  if (model_.norm_mean)  // PhiMoE's LayerNorm (with its bias), as the CPU's residual_step
    layer_norm<T>(residual, nullptr, n, H, norm_weight, norm_bias, eps, x_float, nullptr, stream_);
  else
    rms_norm(residual, nullptr, n, H, norm_weight, eps, x_float, stream_);
  moe_router_logits(x_float, n, H, w.router, router_rows, logits, stream_);
  if (model_.sparsemixer)
    sparsemixer_route(logits, router_rows, n, E, model_.sparsemixer_jitter_eps, experts, weights, stream_);
  else
    moe_route(logits, router_rows, n, E, k, model_.norm_topk_prob, experts, weights, stream_);
  moe_sort_slots(experts, slots, E, scratch_at<int32_t>(base, plan.chunk_counts), counts, scratch_at<int32_t>(base, plan.offsets),
                 sorted, positions, stream_);
  moe_gather_rows(normed, H, sorted, slots, k, gathered, stream_);
  // The one host read of the layer: how many rows each expert's GEMMs take.
  if (host_counts_.bytes() < size_t(E) * sizeof(int32_t)) host_counts_.resize(size_t(E) * sizeof(int32_t));
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(host_counts_.data(), counts, size_t(E) * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  const std::vector<MoeExpertRun> runs = moe_expert_runs(host_counts_.as<int32_t>(), E);
  const int routed = runs.empty() ? 0 : runs.back().first + runs.back().count;
  if (routed != slots)  // the sort lost or invented slots: stop before the GEMMs read past the gathered rows
    throw std::runtime_error("CUDA MoE: expert row counts add up to " + std::to_string(routed) + ", not the step's " +
                             std::to_string(slots) + " routed slots");

  size_t workspace_floats = 0;
  for (const MoeExpertRun& r : runs)
    workspace_floats = std::max({workspace_floats, gemm.workspace_floats(r.count, 2 * inter, H), gemm.workspace_floats(r.count, H, inter)});
  if (shared > 0)
    workspace_floats = std::max({workspace_floats, gemm.workspace_floats(n, 2 * shared, H), gemm.workspace_floats(n, H, shared)});
  if (gemm_workspace_.bytes() < workspace_floats * sizeof(float)) gemm_workspace_.resize(workspace_floats * sizeof(float));  // stream idle: synchronized above
  float* workspace = gemm_workspace_.as<float>();

  for (const MoeExpertRun& r : runs) {
    gemm.linear(gathered + size_t(r.first) * H, w.gate_up[r.expert], nullptr, r.count, 2 * inter, H, gate_up, workspace);
    activate(gate_up, r.count, inter, activated);
    gemm.linear(activated, w.down[r.expert], nullptr, r.count, H, inter, expert_out + size_t(r.first) * H, workspace);
  }
  if (shared > 0) {
    gemm.linear(normed, w.shared_gate_up, nullptr, n, 2 * shared, H, gate_up, workspace);
    activate(gate_up, n, shared, activated);
    gemm.linear(activated, w.shared_down, nullptr, n, H, shared, shared_out, workspace);
  }
  const bool gated = shared > 0 && model_.shared_expert_gated;
  moe_combine(expert_out, positions, weights, n, k, H, shared > 0 ? shared_out : nullptr, gated ? logits + E : nullptr, router_rows,
              out, stream_);
}

template class MoeForward<__half>;
template class MoeForward<__nv_bfloat16>;

}  // namespace pagedllm::cuda
