// A sparse mixture-of-experts MLP (Mixtral, Qwen2-MoE, Qwen3-MoE, PhiMoE, GPT-OSS, DeepSeek, GLM-4-MoE): router, softmax top-k (PhiMoE: sparsemixer; DeepSeek: grouped), each chosen expert's gated
// MLP on the rows routed to it, and the weighted sum in rank order (Llama 4: sigmoid weights on the experts' inputs, outputs added as
// they are); Qwen2-MoE's gated shared expert (GraniteMoeShared's and Llama 4's ungated one) added last. Nemotron-H: ungated
// relu2 experts, optionally between latent projections.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

struct MoeWeights {
  // [num_experts, hidden] in f32 whatever the weight format: the choice of experts is discrete, and llama.cpp's
  // quantizer leaves ffn_gate_inp in f32 too.
  WeightMatrix router;
  std::vector<WeightMatrix> gate_up;  // per expert [2 * moe_intermediate_size, hidden]: gate rows, then up rows
  std::vector<WeightMatrix> down;     // per expert [hidden, moe_intermediate_size]
  WeightMatrix shared_gate_up, shared_down;  // Qwen2-MoE's shared expert; empty otherwise
  WeightMatrix shared_gate;                  // [1, hidden], f32; empty for an ungated shared expert
  // GPT-OSS's biases (empty without): the router's [num_experts], each expert's gate_up [2 * inter] and down [hidden].
  std::vector<float> router_bias;
  std::vector<std::vector<float>> gate_up_bias, down_bias;
  WeightMatrix score_correction_bias;        // DeepSeek V3's e_score_correction_bias, [1, num_experts] f32; empty without
  WeightMatrix latent_in, latent_out;         // Nemotron-H's fc1_latent_proj [latent, hidden], fc2_latent_proj [hidden, latent]; empty without
  uint64_t bytes() const;
};

// Stacks named [rows, cols] tensors top to bottom into one matrix kept in `format` (model_weights.cpp's loader).
using MatrixLoader =
    std::function<WeightMatrix(const std::vector<std::pair<std::string, int>>& parts, int cols, WeightFormat format)>;
// One sparse layer's weights under `prefix` ("model.layers.N."); experts' down matrices in down_format (Q4_K_M's
// extra bits), the others in format; `has` says whether a tensor is in the list (GPT-OSS's fused or separate gate/up).
MoeWeights load_moe_weights(const ModelConfig& config, const std::string& prefix, WeightFormat format,
                            WeightFormat down_format, const MatrixLoader& load, const std::function<bool(const std::string&)>& has);

// A [size] float tensor by name, or an empty vector when the checkpoint's tensor list does not name it.
using VectorLoader = std::function<std::vector<float>(const std::string& name, int size)>;
// GPT-OSS: the router's and the experts' biases (mlp.gate.bias, mlp.experts.E.{gate_up,down}_proj.bias), where present.
void load_moe_biases(const ModelConfig& config, const std::string& prefix, MoeWeights& weights, const VectorLoader& load);

// Per row of router logits [num_rows, num_experts]: softmax in fp32, the top_k probabilities (on equal values the
// lowest expert index first) into experts / weights [num_rows, top_k] in rank order, divided by their sum when
// renormalize. Calling thread only.
void moe_route(const float* router_logits, int num_rows, int num_experts, int top_k, bool renormalize, int32_t* experts,
               float* weights);

// PhiMoE's sparsemixer (sparsemixer.cpp): exactly two experts per row, in rank order, each weighted by its own masked
// softmax (jitter_eps: router_jitter_noise). Calling thread only.
void sparsemixer_route(const float* router_logits, int num_rows, int num_experts, double jitter_eps, int32_t* experts,
                       float* weights);

// DeepSeek V2/V3's grouped top-k (grouped_topk.cpp; config.moe_groups > 0): top_k experts per row in rank order, each
// weighted by its score (normalised when norm_topk_prob) times routed_scaling_factor. bias: [num_experts] or nullptr.
// Calling thread only.
void grouped_topk_route(const ModelConfig& config, const float* router_logits, const float* bias, int num_rows, int32_t* experts,
                        float* weights);

// Activations grown to the largest batch seen and reused.
struct MoeScratch {
  std::vector<float> router_logits, weights, gathered, gate_up, activated, expert_rows, expert_out, shared_gate, score_correction, latent, latent_sum;
  std::vector<int32_t> experts, slots;
};

// The experts' half of moe_mlp, for routing chosen elsewhere (Gemma 4's router reads other rows than its experts):
// out[num_rows, hidden] = sum over ranks of weights * expert(x), experts / weights [num_rows, top_k] in rank order, plus
// the shared expert when the config has one (out may be x).
void moe_experts(ThreadPool& pool, const MoeWeights& w, const ModelConfig& config, const float* x, int num_rows,
                 const int32_t* experts, const float* weights, float* out, LinearOrder order, MoeScratch& scratch);

// out[num_rows, hidden] = the layer's sparse MLP of x (out may be x). A row's result depends on that row alone: the
// expert kernels give each row the same sums at any row count (quantized weights, or LinearOrder::kBatchInvariant),
// the router always runs in batch-invariant order, and the k expert outputs are added in rank order.
void moe_mlp(ThreadPool& pool, const MoeWeights& w, const ModelConfig& config, const float* x, int num_rows, float* out,
             LinearOrder order, MoeScratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
