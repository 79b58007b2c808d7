// Loads Gemma 4's tensors (src/engine/model/gemma4-tensors.ts lists them): layers of their own head size and MLP width,
// q only on KV-shared layers, the key projection stacked twice where keys are the values, and the per-layer inputs.
#include "model_weights.h"

namespace pagedllm {
namespace cpu {

uint64_t Gemma4Weights::bytes() const {
  uint64_t total = embed_per_layer.bytes() + per_layer_projection.bytes() + per_layer_projection_norm.size() * 4 + gemma3n.bytes();
  for (const auto& layer : layers) {
    total += layer.ple_gate.bytes() + layer.ple_projection.bytes() + layer.ple_norm.size() * 4 + 4;
    total += (layer.router_scale.size() + layer.per_expert_scale.size() + layer.mlp_out_norm.size() + layer.experts_in_norm.size() +
              layer.experts_out_norm.size()) * 4;
  }
  return total;
}

// The MoE block beside the dense MLP: experts.gate_up_proj / down_proj arrive cut per expert (gemma4-tensors.ts), the
// router in f32 as every MoE router here.
static void load_moe_block(const ModelConfig& config, WeightFormat format, const TensorAccess& access, const std::string& p,
                           MoeWeights& moe, Gemma4LayerWeights& extra) {
  const int hidden = config.hidden_size, experts = config.num_experts, inter = config.moe_intermediate_size;
  moe.router = access.matrix({{p + "router.proj.weight", experts}}, hidden, WeightFormat::F32);
  for (int e = 0; e < experts; ++e) {
    const std::string expert = p + "experts." + std::to_string(e) + ".";
    moe.gate_up.push_back(access.matrix({{expert + "gate_up_proj", 2 * inter}}, hidden, format));
    moe.down.push_back(access.matrix({{expert + "down_proj", hidden}}, inter, format));
  }
  extra.router_scale = access.vector(p + "router.scale", hidden);
  extra.per_expert_scale = access.vector(p + "router.per_expert_scale", experts);
  extra.mlp_out_norm = access.vector(p + "post_feedforward_layernorm_1.weight", hidden);
  extra.experts_in_norm = access.vector(p + "pre_feedforward_layernorm_2.weight", hidden);
  extra.experts_out_norm = access.vector(p + "post_feedforward_layernorm_2.weight", hidden);
}

ModelWeights load_gemma4_weights(const ModelConfig& config, WeightFormat format, const TensorAccess& access) {
  const Gemma4Config& g = config.gemma4;
  const int hidden = config.hidden_size, ple = g.per_layer_input_size;
  ModelWeights weights;
  const bool has_lm_head = access.has("lm_head.weight") || !config.tie_word_embeddings;
  weights.embed_tokens = access.matrix({{"model.embed_tokens.weight", config.vocab_size}}, hidden, format);
  if (has_lm_head) weights.lm_head = access.matrix({{"lm_head.weight", config.vocab_size}}, hidden, format);
  weights.final_norm = access.vector("model.norm.weight", hidden);
  if (ple > 0) {
    weights.gemma4.embed_per_layer = access.matrix({{"model.embed_tokens_per_layer.weight", g.per_layer_vocab_size}}, config.num_layers * ple, format);
    weights.gemma4.per_layer_projection = access.matrix({{"model.per_layer_model_projection.weight", config.num_layers * ple}}, hidden, format);
    weights.gemma4.per_layer_projection_norm = access.vector("model.per_layer_projection_norm.weight", ple);
  }
  weights.layers.resize(config.num_layers);
  weights.gemma4.layers.resize(config.num_layers);
  for (int i = 0; i < config.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const Gemma4Layer& shape = g.layers[i];
    const int q_rows = config.num_heads * shape.head_dim, kv_rows = shape.num_kv_heads * shape.head_dim;
    LayerWeights& layer = weights.layers[i];
    layer.input_norm = access.vector(p + "input_layernorm.weight", hidden);
    layer.attention_out_norm = access.vector(p + "post_attention_layernorm.weight", hidden);
    layer.post_attention_norm = access.vector(p + "pre_feedforward_layernorm.weight", hidden);
    layer.mlp_out_norm = access.vector(p + "post_feedforward_layernorm.weight", hidden);
    layer.q_norm = access.vector(p + "self_attn.q_norm.weight", shape.head_dim);
    std::vector<std::pair<std::string, int>> qkv = {{p + "self_attn.q_proj.weight", q_rows}};
    if (g.writes_kv(i)) {
      // k_eq_v: the value heads are the key projection's output, so its rows are stacked twice (k, then v).
      qkv.push_back({p + "self_attn.k_proj.weight", kv_rows});
      qkv.push_back({p + (shape.k_eq_v ? "self_attn.k_proj.weight" : "self_attn.v_proj.weight"), kv_rows});
      layer.k_norm = access.vector(p + "self_attn.k_norm.weight", shape.head_dim);
    }
    layer.qkv = access.matrix(qkv, hidden, format);
    layer.o_proj = access.matrix({{p + "self_attn.o_proj.weight", hidden}}, q_rows, format);
    layer.gate_up = access.matrix({{p + "mlp.gate_proj.weight", shape.intermediate_size}, {p + "mlp.up_proj.weight", shape.intermediate_size}}, hidden, format);
    layer.down = access.matrix({{p + "mlp.down_proj.weight", hidden}}, shape.intermediate_size, format);
    Gemma4LayerWeights& extra = weights.gemma4.layers[i];
    if (ple > 0) {
      extra.ple_gate = access.matrix({{p + "per_layer_input_gate.weight", ple}}, hidden, format);
      extra.ple_projection = access.matrix({{p + "per_layer_projection.weight", hidden}}, ple, format);
      extra.ple_norm = access.vector(p + "post_per_layer_input_norm.weight", hidden);
    }
    if (config.num_experts > 0) load_moe_block(config, format, access, p, layer.moe, extra);
    if (access.has(p + "layer_scalar")) extra.layer_scalar = access.vector(p + "layer_scalar", 1)[0];
  }
  if (g.gemma3n.enabled()) weights.gemma4.gemma3n = load_gemma3n_weights(config, format, access);
  return weights;
}

}  // namespace cpu
}  // namespace pagedllm
