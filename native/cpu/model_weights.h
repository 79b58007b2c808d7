// The Llama-family weights in compute layout (fused QKV and gate/up matrices), read from safetensors files.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"
#include "mla.h"
#include "linear_attention.h"
#include "mamba1_mixer.h"
#include "mamba2_mixer.h"
#include "short_conv.h"
#include "kimi_delta.h"
#include "zamba2_weights.h"
#include "moe.h"
#include "diff_attention.h"

namespace pagedllm {
namespace cpu {

struct LayerWeights {
  std::vector<float> input_norm;
  std::vector<float> post_attention_norm;
  WeightMatrix qkv;               // rows: q heads, then k heads, then v heads
  std::vector<float> qkv_bias;    // empty unless attention_bias
  std::vector<float> q_norm;      // [head_dim] each, empty unless qk_norm (Qwen3)
  std::vector<float> k_norm;
  WeightMatrix o_proj;
  WeightMatrix gate_up;           // rows: gate, then up (silu_and_mul's input layout)
  WeightMatrix down;
  std::vector<float> attention_out_norm;  // Gemma 2 (sandwich_norms): on o_proj's output, before the residual add
  std::vector<float> mlp_out_norm;        // Gemma 2: on down's output, before the residual add
  MoeWeights moe;                         // a sparse layer's router and experts (gate_up and down stay empty)
  MlaWeights mla;                         // DeepSeek's latent attention (qkv stays empty)
  LinearAttentionWeights linear_attn;     // a hybrid model's Gated DeltaNet layer (qkv and o_proj stay empty)
  KimiDeltaWeights kimi_delta;            // or Kimi Linear's Kimi Delta Attention (config.kimi_delta)
  Mamba2Weights mamba;                    // or its Mamba-2 mixer (config.mamba2)
  ShortConvWeights short_conv;            // or LFM2's gated short convolution (config.short_conv_kernel)
  Mamba1Weights mamba1;                   // or its Mamba-1 mixer (config.mamba1)
  // LayerNorm family (gate_up holds fc1, down fc2): norm biases, and biases on o_proj and the MLP (empty without them);
  // Llama's mlp_bias: fc1_bias is [gate | up]'s, fc2_bias down's.
  std::vector<float> input_norm_bias, post_attention_norm_bias, o_bias, fc1_bias, fc2_bias;
  // Phi's / StableLM's q and k head LayerNorms ([heads * head_dim] each; q_norm / k_norm hold the weights).
  std::vector<float> q_norm_bias, k_norm_bias;
  std::vector<float> attn_sinks;  // GPT-OSS: [num_heads] softmax sinks (AttentionBatch::sinks); empty without
  XieluParams xielu;              // Apertus (hidden_act xielu): the layer's activation scalars
  std::vector<float> attn_sub_norm, ffn_sub_norm;  // BitNet (sub_norms): before o_proj and down_proj; empty without
  DiffLambda diff_lambda;         // DiffLlama (diff_attention): the layer's lambda
};

// Gemma 4's weights beyond the shared layer layout (gemma4_weights.cpp): the per-layer inputs' tables and gates, and
// each layer's output scale.
struct Gemma4LayerWeights {
  WeightMatrix ple_gate;        // [per_layer_input_size, hidden]
  WeightMatrix ple_projection;  // [hidden, per_layer_input_size]
  std::vector<float> ple_norm;  // post_per_layer_input_norm
  float layer_scalar = 1.f;
  // The MoE block (its router and experts in LayerWeights::moe): the router's scale and per-expert scales, and the norms
  // of the dense MLP's output (post_feedforward_layernorm_1), the experts' input (pre_feedforward_layernorm_2) and output
  // (post_feedforward_layernorm_2).
  std::vector<float> router_scale, per_expert_scale, mlp_out_norm, experts_in_norm, experts_out_norm;
};
// Gemma 3n's weights beyond Gemma 4's (gemma3n_weights.cpp): AltUp's router and coefficients (small, kept as floats,
// row-major as stored) and LAuReL's low-rank pair per layer; the projections into and out of streams 1..N-1.
struct Gemma3nLayerWeights {
  std::vector<float> router;            // modality_router [N, hidden]
  std::vector<float> prediction_coefs;  // [N * N, N]
  std::vector<float> correction_coefs;  // [N, N]
  std::vector<float> router_norm, correct_output_scale;
  WeightMatrix laurel_left;   // [laurel_rank, hidden]
  WeightMatrix laurel_right;  // [hidden, laurel_rank]
  std::vector<float> laurel_norm;
};
struct Gemma3nWeights {
  std::vector<WeightMatrix> altup_projections, altup_unembed;  // N - 1 each, [hidden, hidden]
  std::vector<Gemma3nLayerWeights> layers;
  uint64_t bytes() const;
};
struct Gemma4Weights {
  WeightMatrix embed_per_layer;       // [per_layer_vocab, layers * per_layer_input_size]
  WeightMatrix per_layer_projection;  // [layers * per_layer_input_size, hidden]
  std::vector<float> per_layer_projection_norm;
  std::vector<Gemma4LayerWeights> layers;
  Gemma3nWeights gemma3n;  // Gemma 3n only
  uint64_t bytes() const;
};

struct ModelWeights {
  WeightMatrix embed_tokens;
  WeightMatrix lm_head;           // empty when tied to embed_tokens
  std::vector<float> final_norm;
  std::vector<LayerWeights> layers;

  // LayerNorm family: the final norm's bias, learned positions (GPT-2, OPT) and OPT's project_in / project_out.
  std::vector<float> final_norm_bias;
  WeightMatrix embed_positions, project_in, project_out;
  std::vector<float> lm_head_bias;  // Phi, GPT-J: [vocab_size]; empty without
  std::vector<float> embed_norm, embed_norm_bias;  // BLOOM: a LayerNorm on the token embeddings; empty without
  Gemma4Weights gemma4;  // Gemma 4 only
  Zamba2Weights zamba2;  // Zamba2 only

  const WeightMatrix& output_matrix() const { return lm_head.rows > 0 ? lm_head : embed_tokens; }
  uint64_t bytes() const;
};

// What the Gemma 4 loader reads through (model_weights.cpp's reader): a tensor's presence, a vector, stacked matrices.
struct TensorAccess {
  std::function<bool(const std::string&)> has;
  std::function<std::vector<float>(const std::string&, int)> vector;
  MatrixLoader matrix;
};
ModelWeights load_gemma4_weights(const ModelConfig& config, WeightFormat format, const TensorAccess& access);
// Gemma 3n's AltUp and LAuReL weights (gemma3n-tensors.ts lists them).
Gemma3nWeights load_gemma3n_weights(const ModelConfig& config, WeightFormat format, const TensorAccess& access);

// Reads every tensor the config needs; throws std::runtime_error naming the tensor on a missing tensor,
// a wrong shape or an unreadable file.
ModelWeights load_model_weights(const ModelConfig& config, const std::vector<TensorSource>& tensors,
                                WeightFormat format);

}  // namespace cpu
}  // namespace pagedllm
