// Loads the LayerNorm family's weights into one device allocation (weight_plan.h), tensor by tensor as the CPU's
// load_layernorm_family: which biases and norms exist is decided in TypeScript, by the tensor list.
#include <string>

#include "cuda_common.cuh"
#include "layernorm_weights.h"
#include "weight_plan.h"

namespace pagedllm::cuda {

template <typename T>
LayerNormWeights<T>::LayerNormWeights(const BackendOptions& options, cudaStream_t stream) {
  const ModelConfig& m = options.model;
  const int64_t H = m.hidden_size, I = m.intermediate_size, E = m.embed_dim > 0 ? m.embed_dim : m.hidden_size, D = m.head_dim;
  const int64_t q_rows = int64_t(m.num_heads) * D, kv_rows = int64_t(m.num_kv_heads) * D;
  Planner plan(options.tensors);
  constexpr size_t kNone = SIZE_MAX;
  const auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) { return plan.reserve({{name, {rows, cols}}}, sizeof(T), false); };
  const auto floats = [&](const std::string& name, int64_t size) { return plan.reserve({{name, {size}}}, sizeof(float), true); };
  const auto optional = [&](const std::string& name, int64_t size) { return plan.has(name) ? floats(name, size) : kNone; };
  // The CPU's norm vectors: weights read unless the norms have none (OPT's elementwise_affine false), biases where listed.
  const auto norm = [&](const std::string& name) { return m.norm_affine ? floats(name + ".weight", H) : kNone; };
  const auto norm_bias = [&](const std::string& name) { return m.norm_affine ? optional(name + ".bias", H) : kNone; };

  const size_t embed_at = matrix("model.embed_tokens.weight", m.vocab_size, E);
  const size_t lm_head_at = m.tie_word_embeddings ? embed_at : matrix("lm_head.weight", m.vocab_size, E);
  const size_t lm_bias_at = optional("lm_head.bias", m.vocab_size);
  const bool has_embed_norm = plan.has("model.embed_norm.weight");
  const size_t embed_norm_at = has_embed_norm ? floats("model.embed_norm.weight", E) : kNone;
  const size_t embed_norm_bias_at = has_embed_norm ? floats("model.embed_norm.bias", E) : kNone;
  const size_t positions_at = m.learned_positions > 0 ? plan.reserve({{"model.embed_positions.weight", {m.learned_positions, H}}}, sizeof(float), true) : kNone;
  const size_t project_in_at = m.embed_dim > 0 ? matrix("model.project_in.weight", H, E) : kNone;
  const size_t project_out_at = m.embed_dim > 0 ? matrix("model.project_out.weight", E, H) : kNone;
  const size_t final_norm_at = m.final_norm ? norm("model.norm") : kNone;
  const size_t final_norm_bias_at = m.final_norm ? norm_bias("model.norm") : kNone;

  struct Offsets {
    size_t input_norm, input_norm_bias, post_norm = kNone, post_norm_bias = kNone, q_norm = kNone, q_norm_bias = kNone, k_norm = kNone,
        k_norm_bias = kNone, qkv, qkv_bias, o_proj, o_bias, fc1, fc1_bias = kNone, fc2, fc2_bias = kNone;
    bool head_norm_shared = true;
  };
  std::vector<Offsets> offsets(m.num_layers);
  for (int i = 0; i < m.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Offsets& o = offsets[i];
    o.input_norm = norm(p + "input_layernorm");
    o.input_norm_bias = norm_bias(p + "input_layernorm");
    if (!m.shared_norm) {
      o.post_norm = norm(p + "post_attention_layernorm");
      o.post_norm_bias = norm_bias(p + "post_attention_layernorm");
    }
    if (m.qk_norm) {
      // Phi: one q_norm (weight and bias) for every head; StableLM: q_norm.{h}.weight per head, no bias.
      o.head_norm_shared = plan.has(p + "self_attn.q_norm.weight");
      const auto head_norm = [&](const std::string& name, int heads, size_t& weight, size_t& bias) {
        if (o.head_norm_shared) {
          weight = floats(name + ".weight", D);
          bias = floats(name + ".bias", D);
          return;
        }
        std::vector<std::pair<std::string, std::vector<int64_t>>> parts;
        for (int h = 0; h < heads; ++h) parts.push_back({name + "." + std::to_string(h) + ".weight", {D}});
        weight = plan.reserve(parts, sizeof(float), true);
      };
      head_norm(p + "self_attn.q_norm", m.num_heads, o.q_norm, o.q_norm_bias);
      head_norm(p + "self_attn.k_norm", m.num_kv_heads, o.k_norm, o.k_norm_bias);
    }
    if (plan.has(p + "self_attn.qkv_proj.weight")) {
      o.qkv = matrix(p + "self_attn.qkv_proj.weight", q_rows + 2 * kv_rows, H);
      o.qkv_bias = optional(p + "self_attn.qkv_proj.bias", q_rows + 2 * kv_rows);
    } else {
      o.qkv = plan.reserve({{p + "self_attn.q_proj.weight", {q_rows, H}}, {p + "self_attn.k_proj.weight", {kv_rows, H}},
                            {p + "self_attn.v_proj.weight", {kv_rows, H}}}, sizeof(T), false);
      o.qkv_bias = plan.has(p + "self_attn.q_proj.bias")
                       ? plan.reserve({{p + "self_attn.q_proj.bias", {q_rows}}, {p + "self_attn.k_proj.bias", {kv_rows}},
                                       {p + "self_attn.v_proj.bias", {kv_rows}}}, sizeof(float), true)
                       : kNone;
    }
    o.o_proj = matrix(p + "self_attn.o_proj.weight", H, q_rows);
    o.o_bias = optional(p + "self_attn.o_proj.bias", H);
    if (m.gated_mlp) {  // StableLM: [gate | up] rows, no biases
      o.fc1 = plan.reserve({{p + "mlp.gate_proj.weight", {I, H}}, {p + "mlp.up_proj.weight", {I, H}}}, sizeof(T), false);
      o.fc2 = matrix(p + "mlp.down_proj.weight", H, I);
      continue;
    }
    o.fc1 = matrix(p + "mlp.fc1.weight", I, H);
    o.fc1_bias = optional(p + "mlp.fc1.bias", I);
    o.fc2 = matrix(p + "mlp.fc2.weight", H, I);
    o.fc2_bias = optional(p + "mlp.fc2.bias", H);
  }

  upload_planned_weights<T>(plan, storage_, stream);
  char* base = storage_.as<char>();
  const auto at = [base](size_t offset) { return offset == kNone ? nullptr : reinterpret_cast<const T*>(base + offset); };
  const auto floats_at = [base](size_t offset) { return offset == kNone ? nullptr : reinterpret_cast<const float*>(base + offset); };
  embed_tokens = at(embed_at);
  lm_head = at(lm_head_at);
  lm_head_bias = floats_at(lm_bias_at);
  embed_norm = floats_at(embed_norm_at);
  embed_norm_bias = floats_at(embed_norm_bias_at);
  positions = floats_at(positions_at);
  project_in = at(project_in_at);
  project_out = at(project_out_at);
  final_norm = floats_at(final_norm_at);
  final_norm_bias = floats_at(final_norm_bias_at);
  for (const Offsets& o : offsets) {
    layers.push_back({floats_at(o.input_norm), floats_at(o.input_norm_bias), floats_at(o.post_norm), floats_at(o.post_norm_bias),
                      floats_at(o.q_norm), floats_at(o.q_norm_bias), floats_at(o.k_norm), floats_at(o.k_norm_bias), o.head_norm_shared,
                      at(o.qkv), floats_at(o.qkv_bias), at(o.o_proj), floats_at(o.o_bias), at(o.fc1), floats_at(o.fc1_bias), at(o.fc2),
                      floats_at(o.fc2_bias)});
  }
}

template class LayerNormWeights<__half>;
template class LayerNormWeights<__nv_bfloat16>;

}  // namespace pagedllm::cuda
