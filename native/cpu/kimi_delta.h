// Kimi Linear's Kimi Delta Attention layers (transformers' KimiLinearDeltaAttention): Gated DeltaNet with a decay per
// key channel. q, k and v come through their own short causal convs (silu), q and k l2-normalised, the decay is
// g = -exp(A_log[h]) * softplus(f_b(f_a(x)) + dt_bias), beta = sigmoid(b_proj(x)), and the output is RMSNormGated
// under sigmoid(g_b(g_a(x))), then o_proj. Key and value heads are the same heads, so the per-sequence states fit
// LinearStatePool's Gated DeltaNet shapes (LinearAttentionShape with k_heads == v_heads, k_dim == v_dim).
#pragma once
#include <string>
#include <vector>

#include "kernels.h"
#include "linear_attention.h"

namespace pagedllm {
namespace cpu {

struct KimiDeltaWeights {
  WeightMatrix in_proj;           // rows: q, k, v (the conv channels), f_a, g_a, b
  WeightMatrix f_b, g_b;          // [heads * head_dim, head_dim]: the decay's and the output gate's up-projections
  std::vector<float> conv;        // [3 * heads * head_dim, kernel]: q_conv1d, k_conv1d, v_conv1d stacked
  std::vector<float> dt_bias;     // [heads * head_dim]
  std::vector<float> decay_rate;  // -exp(A_log) [heads]
  std::vector<float> norm;        // o_norm's weight [head_dim]
  WeightMatrix out_proj;
  uint64_t bytes() const;
};

// One layer's weights under `prefix` ("model.layers.N."); the loader names them linear_attn.* (src/engine/model/kimi-linear-tensors.ts).
// decay_rate_stored: A_log holds -exp(A_log) already (a GGUF file's ssm_a), taken as it is.
KimiDeltaWeights load_kimi_delta(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const LoadStacked& stacked,
                                 bool decay_rate_stored);

struct KimiDeltaScratch {
  std::vector<float> proj, low_rank, decay, gate, mixed, core, normed;
};

// One layer over the batch: hidden [tokens, hidden_size] in, out [tokens, hidden_size]; each sequence's rows read and
// advance the states of its slot (b.state_slots).
void kimi_delta_layer(ThreadPool& pool, const ModelConfig& config, const KimiDeltaWeights& w, LinearStatePool& states,
                      int linear_layer, const ForwardBatch& b, const float* hidden, float* out, LinearOrder order,
                      KimiDeltaScratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
