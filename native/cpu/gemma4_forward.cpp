// Gemma 4's decoder layers. Per layer (transformers 5.18's Gemma4TextDecoderLayer):
//   h += post_attention_norm(attention(input_norm(h)))      q/k RMS-normed per head, v RMS-normed without weight,
//   h += post_feedforward_norm(mlp(pre_feedforward_norm(h)))  scores q.k unscaled; KV-shared layers read their source's cache
//   h += post_per_layer_input_norm(projection(act(gate(h)) * per_layer_input))   (per-layer inputs only)
//   h *= layer_scalar
#include "gemma4_forward.h"

#include <algorithm>
#include <cmath>

namespace pagedllm {
namespace cpu {

KvLayout gemma4_kv_layout(const ModelConfig& config, int block_size, int layer) {
  const Gemma4Layer& source = config.gemma4.layers.at(config.gemma4.layers.at(layer).kv_source);
  return {block_size, source.num_kv_heads, source.head_dim};
}

Gemma4Forward::Gemma4Forward(const ModelConfig& config) : config_(config) {
  int widest = config.hidden_size;
  for (const auto& layer : config.gemma4.layers) widest = std::max(widest, layer.head_dim);
  ones_.assign(widest, 1.f);
}

static bool is_full_layer(const ModelConfig& config, int layer) {
  return config.layer_windows.empty() || config.layer_windows.at(layer) == 0;
}

// Full layers: proportional rope, base^(2i / head_dim) / factor for the first full_rope_angles pairs and 0 (no turn) for
// the rest; sliding layers: the default rope of local_rope_theta.
const float* Gemma4Forward::cos_sin(const ForwardBatch& batch, int layer) {
  const Gemma4Config& g = config_.gemma4;
  const bool full = is_full_layer(config_, layer);
  const int dim = g.layers[layer].head_dim;
  std::vector<float>& table = tables_[{full, dim}];
  if (!table.empty()) return table.data();
  std::vector<double> inv_freq(dim / 2, 0.0);
  const double base = full ? config_.rope_theta : g.local_rope_theta;
  const int angles = full ? std::min(g.full_rope_angles, dim / 2) : dim / 2;
  for (int i = 0; i < angles; ++i) inv_freq[i] = 1.0 / std::pow(base, 2.0 * i / dim) / (full ? g.full_rope_factor : 1.0);
  table.resize(static_cast<size_t>(batch.num_tokens) * dim);
  rope_cos_sin(batch.positions, batch.num_tokens, inv_freq, table.data());
  return table.data();
}

void Gemma4Forward::layers(ThreadPool& pool, const ModelWeights& w, const std::vector<Gemma4Kv>& kv, LinearOrder order,
                           const ForwardBatch& b, std::vector<float>& residual, std::vector<float>& hidden) {
  const int tokens = b.num_tokens, hidden_size = config_.hidden_size;
  const size_t count = static_cast<size_t>(tokens) * hidden_size;
  const float eps = config_.rms_norm_eps;
  residual.resize(count);
  hidden.assign(count, 0.f);
  normed_.resize(count);
  out_.resize(count);
  tables_.clear();
  float* h = residual.data();
  for (int t = 0; t < tokens; ++t) w.embed_tokens.load_row(b.token_ids[t], h + static_cast<size_t>(t) * hidden_size);
  for (size_t i = 0; i < count; ++i) h[i] *= config_.embedding_scale;
  if (config_.gemma4.per_layer_input_size > 0) per_layer_inputs(pool, w, order, b, h);
  for (int l = 0; l < config_.num_layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    rms_norm(pool, h, lw.input_norm.data(), normed_.data(), tokens, hidden_size, eps);
    attention(pool, w, l, kv[l], order, b, out_.data());
    rms_norm(pool, out_.data(), lw.attention_out_norm.data(), out_.data(), tokens, hidden_size, eps);
    for (size_t i = 0; i < count; ++i) h[i] += out_[i];
    rms_norm(pool, h, lw.post_attention_norm.data(), normed_.data(), tokens, hidden_size, eps);
    const int inter = config_.gemma4.layers[l].intermediate_size;
    gate_up_.resize(static_cast<size_t>(tokens) * 2 * inter);
    activated_.resize(static_cast<size_t>(tokens) * inter);
    linear(pool, normed_.data(), tokens, lw.gate_up, nullptr, gate_up_.data(), order);
    gated_and_mul(pool, config_.hidden_act, gate_up_.data(), activated_.data(), tokens, inter);
    linear(pool, activated_.data(), tokens, lw.down, nullptr, out_.data(), order);
    if (config_.num_experts > 0) moe_block(pool, w, l, order, tokens, h, out_.data());
    rms_norm(pool, out_.data(), lw.mlp_out_norm.data(), out_.data(), tokens, hidden_size, eps);
    for (size_t i = 0; i < count; ++i) h[i] += out_[i];
    if (config_.gemma4.per_layer_input_size > 0) per_layer_block(pool, w, l, order, tokens, h);
    const float scalar = w.gemma4.layers[l].layer_scalar;
    if (scalar != 1.f) {
      for (size_t i = 0; i < count; ++i) h[i] *= scalar;
    }
  }
}

// ple_ [tokens, layers * P]: (RMSNorm(per_layer_projection(embedded) / sqrt(hidden)) + embed_per_layer(token) * scale) / sqrt(2).
void Gemma4Forward::per_layer_inputs(ThreadPool& pool, const ModelWeights& w, LinearOrder order, const ForwardBatch& b, const float* embedded) {
  const Gemma4Config& g = config_.gemma4;
  const int width = config_.num_layers * g.per_layer_input_size, tokens = b.num_tokens;
  ple_.resize(static_cast<size_t>(tokens) * width);
  linear(pool, embedded, tokens, w.gemma4.per_layer_projection, nullptr, ple_.data(), order);
  const float projection_scale = static_cast<float>(std::pow(static_cast<double>(config_.hidden_size), -0.5));
  for (float& x : ple_) x *= projection_scale;
  head_rms_norm(pool, ple_.data(), tokens, width, config_.num_layers, g.per_layer_input_size, w.gemma4.per_layer_projection_norm.data(), config_.rms_norm_eps);
  const float mix = static_cast<float>(std::pow(2.0, -0.5));
  std::vector<float> row(width);
  for (int t = 0; t < tokens; ++t) {
    // Gemma 3n's ids past the per-layer vocabulary (its towers' soft tokens) take row 0, as Gemma3nModel gives them.
    const int id = b.token_ids[t] < g.per_layer_vocab_size ? b.token_ids[t] : 0;
    w.gemma4.embed_per_layer.load_row(id, row.data());
    float* out = ple_.data() + static_cast<size_t>(t) * width;
    for (int i = 0; i < width; ++i) out[i] = (out[i] + row[i] * g.per_layer_embedding_scale) * mix;
  }
}

void Gemma4Forward::attention(ThreadPool& pool, const ModelWeights& w, int l, const Gemma4Kv& kv, LinearOrder order, const ForwardBatch& b, float* out) {
  const Gemma4Layer& shape = config_.gemma4.layers[l];
  const LayerWeights& lw = w.layers[l];
  const int tokens = b.num_tokens, dim = shape.head_dim;
  const int q_width = config_.num_heads * dim;
  const bool writes = config_.gemma4.writes_kv(l);
  const int kv_width = writes ? shape.num_kv_heads * dim : 0;
  const int stride = q_width + 2 * kv_width;
  qkv_.resize(static_cast<size_t>(tokens) * stride);
  attention_out_.resize(static_cast<size_t>(tokens) * q_width);
  linear(pool, normed_.data(), tokens, lw.qkv, nullptr, qkv_.data(), order);
  const float eps = config_.rms_norm_eps;
  const float* table = cos_sin(b, l);
  head_rms_norm(pool, qkv_.data(), tokens, stride, config_.num_heads, dim, lw.q_norm.data(), eps);
  rotary(pool, qkv_.data(), tokens, stride, config_.num_heads, dim, table);
  if (writes) {
    float* keys = qkv_.data() + q_width;
    head_rms_norm(pool, keys, tokens, stride, shape.num_kv_heads, dim, lw.k_norm.data(), eps);
    head_rms_norm(pool, keys + kv_width, tokens, stride, shape.num_kv_heads, dim, ones_.data(), eps);
    rotary(pool, keys, tokens, stride, shape.num_kv_heads, dim, table);
    reshape_and_cache(keys, keys + kv_width, stride, kv.key, kv.value, b.slot_mapping, tokens, kv.layout);
  }
  AttentionBatch batch{b.num_seqs, b.query_start_loc, b.positions, b.block_tables, b.max_blocks_per_seq};
  batch.sliding_window = config_.layer_windows.empty() ? 0 : config_.layer_windows[l];
  paged_attention(pool, qkv_.data(), stride, kv.key, kv.value, batch, config_.num_heads, kv.layout, 1.f, attention_out_.data());
  linear(pool, attention_out_.data(), tokens, lw.o_proj, nullptr, out, order);
}

// The MoE block beside the dense MLP (whose output mlp_out holds): mlp_out = post_feedforward_layernorm_1(mlp_out) +
// post_feedforward_layernorm_2(experts(pre_feedforward_layernorm_2(h))), the experts picked by a router of its own over
// RMSNorm(h) * scale / sqrt(hidden): softmax top-k, renormalized, each weight times its expert's per_expert_scale.
void Gemma4Forward::moe_block(ThreadPool& pool, const ModelWeights& w, int l, LinearOrder order, int tokens, const float* h, float* mlp_out) {
  const Gemma4LayerWeights& extra = w.gemma4.layers[l];
  const int hidden_size = config_.hidden_size, experts = config_.num_experts, top_k = config_.num_experts_per_tok;
  const size_t count = static_cast<size_t>(tokens) * hidden_size, slots = static_cast<size_t>(tokens) * top_k;
  const float eps = config_.rms_norm_eps;
  router_in_.resize(count);
  rms_norm(pool, h, ones_.data(), router_in_.data(), tokens, hidden_size, eps);
  const float root = static_cast<float>(std::pow(static_cast<double>(hidden_size), -0.5));
  for (size_t i = 0; i < count; ++i) router_in_[i] = router_in_[i] * extra.router_scale[i % hidden_size] * root;
  router_logits_.resize(static_cast<size_t>(tokens) * experts);
  linear(pool, router_in_.data(), tokens, w.layers[l].moe.router, nullptr, router_logits_.data(), LinearOrder::kBatchInvariant);
  routed_experts_.resize(slots);
  route_weights_.resize(slots);
  moe_route(router_logits_.data(), tokens, experts, top_k, true, routed_experts_.data(), route_weights_.data());
  for (size_t s = 0; s < slots; ++s) route_weights_[s] *= extra.per_expert_scale[routed_experts_[s]];
  rms_norm(pool, h, extra.experts_in_norm.data(), router_in_.data(), tokens, hidden_size, eps);
  experts_out_.resize(count);
  moe_experts(pool, w.layers[l].moe, config_, router_in_.data(), tokens, routed_experts_.data(), route_weights_.data(), experts_out_.data(), order, moe_scratch_);
  rms_norm(pool, experts_out_.data(), extra.experts_out_norm.data(), experts_out_.data(), tokens, hidden_size, eps);
  rms_norm(pool, mlp_out, extra.mlp_out_norm.data(), mlp_out, tokens, hidden_size, eps);
  for (size_t i = 0; i < count; ++i) mlp_out[i] += experts_out_[i];
}

// h += RMSNorm(per_layer_projection(act(per_layer_input_gate(h)) * per_layer_input[layer])).
void Gemma4Forward::per_layer_block(ThreadPool& pool, const ModelWeights& w, int l, LinearOrder order, int tokens, float* h) {
  const Gemma4LayerWeights& lw = w.gemma4.layers[l];
  const int ple = config_.gemma4.per_layer_input_size, width = config_.num_layers * ple, hidden_size = config_.hidden_size;
  ple_gate_.resize(static_cast<size_t>(tokens) * ple);
  linear(pool, h, tokens, lw.ple_gate, nullptr, ple_gate_.data(), order);
  for (int t = 0; t < tokens; ++t) {
    float* gate = ple_gate_.data() + static_cast<size_t>(t) * ple;
    const float* input = ple_.data() + static_cast<size_t>(t) * width + static_cast<size_t>(l) * ple;
    for (int i = 0; i < ple; ++i) gate[i] = activate(gate[i], config_.hidden_act) * input[i];
  }
  linear(pool, ple_gate_.data(), tokens, lw.ple_projection, nullptr, out_.data(), order);
  rms_norm(pool, out_.data(), lw.ple_norm.data(), out_.data(), tokens, hidden_size, config_.rms_norm_eps);
  const size_t count = static_cast<size_t>(tokens) * hidden_size;
  for (size_t i = 0; i < count; ++i) h[i] += out_[i];
}

}  // namespace cpu
}  // namespace pagedllm
