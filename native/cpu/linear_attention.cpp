// Gated DeltaNet layers (linear_attention.h): in_proj -> causal conv1d (silu) -> l2-normalised q, k -> gated delta
// rule -> RMSNormGated with z -> out_proj, as transformers' Qwen3_5GatedDeltaNet computes it.
#include "linear_attention.h"
#include "scalar_activations.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "gated_delta.h"

namespace pagedllm {
namespace cpu {

uint64_t LinearAttentionWeights::bytes() const {
  return in_proj.bytes() + out_proj.bytes() + (conv.size() + dt_bias.size() + decay_rate.size() + norm.size()) * 4;
}

LinearAttentionWeights load_linear_attention(const ModelConfig& config, const std::string& prefix, const ReadFloats& read,
                                             const ReadDecayRate& decay_rate, const LoadStacked& stacked) {
  const LinearAttentionShape s(config);
  const int hidden = config.hidden_size;
  const std::string p = prefix + "linear_attn.";
  LinearAttentionWeights w;
  // src/engine/model/hybrid-tensors.ts names each key-head group's rows of every projection (Qwen 3.5 keeps q, k, v,
  // z, b and a in separate tensors, Qwen3-Next interleaves them by group); stacked here as [q | k | v | z | b | a].
  const int per_group = s.v_heads / s.k_heads;
  std::vector<std::pair<std::string, int>> parts;
  for (const auto& [part, rows] : std::vector<std::pair<std::string, int>>{{"q", s.k_dim}, {"k", s.k_dim}, {"v", per_group * s.v_dim},
                                                                          {"z", per_group * s.v_dim}, {"b", per_group}, {"a", per_group}}) {
    for (int g = 0; g < s.k_heads; ++g) parts.push_back({p + "in_proj." + part + "." + std::to_string(g) + ".weight", rows});
  }
  w.in_proj = stacked(parts, hidden);
  w.conv = read(p + "conv1d.weight", {s.conv_channels(), 1, s.kernel});
  w.dt_bias = read(p + "dt_bias", {s.v_heads});
  w.decay_rate = decay_rate(p + "A_log", s.v_heads);
  w.norm = read(p + "norm.weight", {s.v_dim});
  w.out_proj = stacked({{p + "out_proj.weight", hidden}}, s.value_width());
  return w;
}

namespace {
// One layer's conv state floats per slot: LFM2's short convolution (no recurrent state), a Mamba-1 or Mamba-2 mixer's,
// or Gated DeltaNet's.
size_t conv_state_floats(const ModelConfig& config) {
  if (config.short_conv_kernel > 0) return static_cast<size_t>(config.hidden_size) * (config.short_conv_kernel - 1);
  if (config.mamba1.enabled()) return config.mamba1.conv_state_floats();
  return config.mamba2.enabled() ? config.mamba2.conv_state_floats() : LinearAttentionShape(config).conv_state_floats();
}
size_t recurrent_state_floats(const ModelConfig& config) {
  if (config.short_conv_kernel > 0) return 0;
  if (config.mamba1.enabled()) return config.mamba1.ssm_state_floats();
  return config.mamba2.enabled() ? config.mamba2.ssm_state_floats() : LinearAttentionShape(config).recurrent_state_floats();
}
}  // namespace

LinearStatePool::LinearStatePool(const ModelConfig& config, int num_slots)
    : conv_floats_(conv_state_floats(config)),
      recurrent_floats_(recurrent_state_floats(config)),
      num_slots_(num_slots),
      num_linear_layers_(0) {
  for (int l = 0; l < config.num_layers; ++l) {
    if (!config.is_linear_layer(l)) continue;
    ++num_linear_layers_;
    conv_.emplace_back(conv_floats_ * num_slots * sizeof(float));
    recurrent_.emplace_back(recurrent_floats_ * num_slots * sizeof(float));
  }
}

float* LinearStatePool::conv(int linear_layer, int slot) const {
  return static_cast<float*>(conv_[linear_layer].data()) + conv_floats_ * slot;
}

float* LinearStatePool::recurrent(int linear_layer, int slot) const {
  return static_cast<float*>(recurrent_[linear_layer].data()) + recurrent_floats_ * slot;
}

void LinearStatePool::reset(int slot) {
  for (int l = 0; l < num_linear_layers_; ++l) {
    std::fill_n(conv(l, slot), conv_floats_, 0.f);
    std::fill_n(recurrent(l, slot), recurrent_floats_, 0.f);
  }
}

void LinearStatePool::copy(int src_slot, int dst_slot) {
  if (src_slot == dst_slot) return;
  for (int l = 0; l < num_linear_layers_; ++l) {
    std::memcpy(conv(l, dst_slot), conv(l, src_slot), conv_floats_ * sizeof(float));
    std::copy_n(recurrent(l, src_slot), recurrent_floats_, recurrent(l, dst_slot));  // none for LFM2 (no buffer behind it)
  }
}

size_t LinearStatePool::bytes_per_slot() const {
  return (conv_floats_ + recurrent_floats_) * sizeof(float) * num_linear_layers_;
}


void l2_normalize_heads(float* row, int heads, int dim, float scale) {
  for (int h = 0; h < heads; ++h) {
    float* x = row + static_cast<size_t>(h) * dim;
    float sum = 0.f;
    for (int i = 0; i < dim; ++i) sum += x[i] * x[i];
    const float factor = scale / std::sqrt(sum + 1e-6f);
    for (int i = 0; i < dim; ++i) x[i] *= factor;
  }
}

void linear_attention_layer(ThreadPool& pool, const ModelConfig& config, const LinearAttentionWeights& w,
                            LinearStatePool& states, int linear_layer, const ForwardBatch& b, const float* hidden,
                            float* out, LinearOrder order, LinearAttentionScratch& scratch) {
  const LinearAttentionShape s(config);
  const int tokens = b.num_tokens, proj_width = s.in_proj_rows(), channels = s.conv_channels();
  const int key_width = s.key_width(), value_width = s.value_width();
  scratch.proj.resize(static_cast<size_t>(tokens) * proj_width);
  scratch.mixed.resize(static_cast<size_t>(tokens) * channels);
  scratch.gates.resize(static_cast<size_t>(tokens) * 2 * s.v_heads);
  scratch.core.resize(static_cast<size_t>(tokens) * value_width);
  scratch.normed.resize(static_cast<size_t>(tokens) * value_width);
  linear(pool, hidden, tokens, w.in_proj, nullptr, scratch.proj.data(), order);
  float* g = scratch.gates.data();
  float* beta = g + static_cast<size_t>(tokens) * s.v_heads;
  const float q_scale = 1.f / std::sqrt(static_cast<float>(s.k_dim));
  for (int t = 0; t < tokens; ++t) {
    const float* row = scratch.proj.data() + static_cast<size_t>(t) * proj_width;
    const float* b_row = row + channels + value_width;
    const float* a_row = b_row + s.v_heads;
    for (int h = 0; h < s.v_heads; ++h) {
      beta[static_cast<size_t>(t) * s.v_heads + h] = config.linear_beta_scale / (1.f + std::exp(-b_row[h]));
      g[static_cast<size_t>(t) * s.v_heads + h] = w.decay_rate[h] * softplus(a_row[h] + w.dt_bias[h]);
    }
  }
  for (int seq = 0; seq < b.num_seqs; ++seq) {
    const int begin = b.query_start_loc[seq], rows = b.query_start_loc[seq + 1] - begin;
    if (rows == 0) continue;
    const int slot = b.state_slots[seq];
    float* mixed = scratch.mixed.data() + static_cast<size_t>(begin) * channels;
    causal_conv1d_silu(pool, scratch.proj.data() + static_cast<size_t>(begin) * proj_width, rows, proj_width, channels,
                       w.conv.data(), s.kernel, states.conv(linear_layer, slot), mixed, channels);
    for (int t = 0; t < rows; ++t) {
      float* row = mixed + static_cast<size_t>(t) * channels;
      l2_normalize_heads(row, s.k_heads, s.k_dim, q_scale);
      l2_normalize_heads(row + key_width, s.k_heads, s.k_dim, 1.f);
    }
    const DeltaRuleRows in{mixed, mixed + key_width, mixed + 2 * key_width, channels, channels, channels,
                           g + static_cast<size_t>(begin) * s.v_heads, beta + static_cast<size_t>(begin) * s.v_heads, rows};
    gated_delta_rule(pool, in, s.k_heads, s.v_heads, s.k_dim, s.v_dim, states.recurrent(linear_layer, slot),
                     scratch.core.data() + static_cast<size_t>(begin) * value_width, config.linear_v_heads_tiled);
  }
  // z sits after the conv channels of each projected row; RMSNormGated runs per value head.
  std::vector<float>& z = scratch.mixed;  // the conv outputs are spent: reuse their room for z, contiguous
  z.resize(std::max(z.size(), static_cast<size_t>(tokens) * value_width));
  for (int t = 0; t < tokens; ++t) {
    const float* row = scratch.proj.data() + static_cast<size_t>(t) * proj_width + channels;
    std::copy(row, row + value_width, z.begin() + static_cast<size_t>(t) * value_width);
  }
  const float norm_eps = config.linear_norm_eps > 0.f ? config.linear_norm_eps : config.rms_norm_eps;
  rms_norm_gated(pool, scratch.core.data(), z.data(), w.norm.data(), tokens * s.v_heads, s.v_dim, norm_eps,
                 scratch.normed.data());
  linear(pool, scratch.normed.data(), tokens, w.out_proj, nullptr, out, order);
}

}  // namespace cpu
}  // namespace pagedllm
