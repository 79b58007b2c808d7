// Zamba2's decoder (zamba2_forward.h), as transformers' Zamba2Model computes it.
#include "zamba2_forward.h"

#include <algorithm>
#include <cmath>

namespace pagedllm {
namespace cpu {

void Zamba2Forward::add_low_rank(ThreadPool& pool, const LowRank& a, const float* x, int rows, float* out, int out_stride, LinearOrder order) {
  low_.resize(static_cast<size_t>(rows) * a.down.rows);
  low_out_.resize(static_cast<size_t>(rows) * a.up.rows);
  linear(pool, x, rows, a.down, nullptr, low_.data(), order);
  linear(pool, low_.data(), rows, a.up, nullptr, low_out_.data(), order);
  for (int r = 0; r < rows; ++r) {
    float* o = out + static_cast<size_t>(r) * out_stride;
    const float* add = low_out_.data() + static_cast<size_t>(r) * a.up.rows;
    for (int i = 0; i < a.up.rows; ++i) o[i] += add[i];
  }
}

void Zamba2Forward::shared_block(ThreadPool& pool, const ModelWeights& weights, int layer, const LayerKv& kv, const KvLayout& layout,
                                 LinearOrder order, const ForwardBatch& b, const float* h, float* t) {
  const Zamba2Block& block = weights.zamba2.blocks[config_.zamba2.shared_block[layer]];
  const Zamba2LayerWeights& own = weights.zamba2.layers[layer];
  const int tokens = b.num_tokens, hidden = config_.hidden_size, width = 2 * hidden, inter = config_.intermediate_size;
  const int q_width = config_.num_heads * config_.head_dim, kv_width = config_.num_kv_heads * config_.head_dim;
  const int qkv_width = q_width + 2 * kv_width;
  const size_t n = static_cast<size_t>(tokens);
  concat_.resize(n * width);
  normed_.resize(n * width);
  for (int r = 0; r < tokens; ++r) {
    std::copy(h + r * static_cast<size_t>(hidden), h + (r + 1) * static_cast<size_t>(hidden), concat_.begin() + r * static_cast<size_t>(width));
    std::copy(embedded_.begin() + r * static_cast<size_t>(hidden), embedded_.begin() + (r + 1) * static_cast<size_t>(hidden), concat_.begin() + r * static_cast<size_t>(width) + hidden);
  }
  rms_norm(pool, concat_.data(), block.input_norm.data(), normed_.data(), tokens, width, config_.rms_norm_eps);
  qkv_.resize(n * qkv_width);
  linear(pool, normed_.data(), tokens, block.qkv, nullptr, qkv_.data(), order);
  if (config_.zamba2.attention_adapters) {
    add_low_rank(pool, own.q, normed_.data(), tokens, qkv_.data(), qkv_width, order);
    add_low_rank(pool, own.k, normed_.data(), tokens, qkv_.data() + q_width, qkv_width, order);
    add_low_rank(pool, own.v, normed_.data(), tokens, qkv_.data() + q_width + kv_width, qkv_width, order);
  }
  float* keys = qkv_.data() + q_width;
  if (config_.zamba2.rope) {
    rotary(pool, qkv_.data(), tokens, qkv_width, config_.num_heads, config_.head_dim, cos_sin_.data());
    rotary(pool, keys, tokens, qkv_width, config_.num_kv_heads, config_.head_dim, cos_sin_.data());
  }
  reshape_and_cache(keys, keys + kv_width, qkv_width, kv.keys, kv.values, b.slot_mapping, tokens, layout);
  AttentionBatch attention{b.num_seqs, b.query_start_loc, b.positions, b.block_tables, b.max_blocks_per_seq};
  attention_out_.resize(n * q_width);
  paged_attention(pool, qkv_.data(), qkv_width, kv.keys, kv.values, attention, config_.num_heads, layout, config_.attention_scale, attention_out_.data());
  block_out_.resize(n * hidden);
  linear(pool, attention_out_.data(), tokens, block.o_proj, nullptr, block_out_.data(), order);
  rms_norm(pool, block_out_.data(), block.pre_ff_norm.data(), block_out_.data(), tokens, hidden, config_.rms_norm_eps);
  gate_up_.resize(n * 2 * inter);
  linear(pool, block_out_.data(), tokens, block.gate_up, nullptr, gate_up_.data(), order);
  if (config_.zamba2.adapter_rank > 0) add_low_rank(pool, own.gate_up, block_out_.data(), tokens, gate_up_.data(), 2 * inter, order);
  activated_.resize(n * inter);
  gated_and_mul(pool, config_.hidden_act, gate_up_.data(), activated_.data(), tokens, inter);
  linear(pool, activated_.data(), tokens, block.down, nullptr, block_out_.data(), order);
  linear(pool, block_out_.data(), tokens, own.linear, nullptr, t, order);
}

void Zamba2Forward::layers(ThreadPool& pool, const ModelWeights& weights, HybridLayers& hybrid, const std::vector<LayerKv>& kv,
                           const KvLayout& layout, const std::vector<double>& inv_freq, LinearOrder order, const ForwardBatch& b,
                           std::vector<float>& residual, std::vector<float>& hidden) {
  const int tokens = b.num_tokens, hidden_size = config_.hidden_size;
  const size_t n = static_cast<size_t>(tokens) * hidden_size;
  embedded_.resize(n);
  for (int t = 0; t < tokens; ++t) weights.embed_tokens.load_row(b.token_ids[t], embedded_.data() + static_cast<size_t>(t) * hidden_size);
  if (config_.zamba2.rope) {
    cos_sin_.resize(static_cast<size_t>(tokens) * config_.head_dim);
    rope_cos_sin(b.positions, tokens, inv_freq, cos_sin_.data());
  }
  residual.assign(embedded_.begin(), embedded_.end());  // h
  mixer_in_.resize(n);
  block_t_.resize(n);
  for (int l = 0; l < config_.num_layers; ++l) {
    std::copy(residual.begin(), residual.begin() + n, mixer_in_.begin());
    if (config_.zamba2.attends(l)) {
      shared_block(pool, weights, l, kv[l], layout, order, b, residual.data(), block_t_.data());
      for (size_t i = 0; i < n; ++i) mixer_in_[i] += block_t_[i];
    }
    rms_norm(pool, mixer_in_.data(), weights.layers[l].input_norm.data(), mixer_in_.data(), tokens, hidden_size, config_.rms_norm_eps);
    if (config_.mamba1.enabled()) {
      hybrid.mamba1_layer(pool, weights.layers[l].mamba1, l, b, mixer_in_.data(), order);  // Zamba (v1)
    } else {
      hybrid.mamba2_layer(pool, weights.layers[l].mamba, l, b, mixer_in_.data(), order);
    }
    for (size_t i = 0; i < n; ++i) residual[i] += mixer_in_[i];
  }
  hidden.assign(n, 0.f);
}

}  // namespace cpu
}  // namespace pagedllm
