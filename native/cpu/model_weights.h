// The Llama-family weights in compute layout (fused QKV and gate/up matrices), read from safetensors files.
#pragma once
#include <vector>

#include "kernels.h"
#include "linear_attention.h"
#include "moe.h"

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
  LinearAttentionWeights linear_attn;     // a hybrid model's Gated DeltaNet layer (qkv and o_proj stay empty)
  // LayerNorm family (gate_up holds fc1, down fc2): norm biases, and biases on o_proj and the MLP (empty without them);
  // Llama's mlp_bias: fc1_bias is [gate | up]'s, fc2_bias down's.
  std::vector<float> input_norm_bias, post_attention_norm_bias, o_bias, fc1_bias, fc2_bias;
  // Phi's / StableLM's q and k head LayerNorms ([heads * head_dim] each; q_norm / k_norm hold the weights).
  std::vector<float> q_norm_bias, k_norm_bias;
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

  const WeightMatrix& output_matrix() const { return lm_head.rows > 0 ? lm_head : embed_tokens; }
  uint64_t bytes() const;
};

// Reads every tensor the config needs; throws std::runtime_error naming the tensor on a missing tensor,
// a wrong shape or an unreadable file.
ModelWeights load_model_weights(const ModelConfig& config, const std::vector<TensorSource>& tensors,
                                WeightFormat format);

}  // namespace cpu
}  // namespace pagedllm
