// Kimi Delta Attention (kimi_delta.h): the Gated DeltaNet kernels (gated_delta.h) with the decay per key channel.
#include "kimi_delta.h"

#include <algorithm>
#include <cmath>

#include "gated_delta.h"
#include "scalar_activations.h"

namespace pagedllm {
namespace cpu {

namespace {
// rows x `width` values of `src` (at `stride`) into contiguous `dst`.
void gather_columns(const float* src, int rows, int stride, int width, float* dst) {
  for (int t = 0; t < rows; ++t) std::copy(src + static_cast<size_t>(t) * stride, src + static_cast<size_t>(t) * stride + width, dst + static_cast<size_t>(t) * width);
}
}  // namespace

uint64_t KimiDeltaWeights::bytes() const {
  return in_proj.bytes() + f_b.bytes() + g_b.bytes() + out_proj.bytes() + (conv.size() + dt_bias.size() + decay_rate.size() + norm.size()) * 4;
}

KimiDeltaWeights load_kimi_delta(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const LoadStacked& stacked,
                                 bool decay_rate_stored) {
  const LinearAttentionShape s(config);
  const int hidden = config.hidden_size, width = s.value_width(), dim = s.k_dim;
  const std::string p = prefix + "linear_attn.";
  KimiDeltaWeights w;
  w.in_proj = stacked({{p + "q_proj.weight", width}, {p + "k_proj.weight", width}, {p + "v_proj.weight", width},
                       {p + "f_a_proj.weight", dim}, {p + "g_a_proj.weight", dim}, {p + "b_proj.weight", s.v_heads}}, hidden);
  w.f_b = stacked({{p + "f_b_proj.weight", width}}, dim);
  w.g_b = stacked({{p + "g_b_proj.weight", width}}, dim);
  for (const char* part : {"q", "k", "v"}) {
    const std::vector<float> conv = read(p + part + "_conv1d.weight", {width, 1, s.kernel});
    w.conv.insert(w.conv.end(), conv.begin(), conv.end());
  }
  w.dt_bias = read(p + "dt_bias", {width});
  w.decay_rate = read(p + "A_log", {1, 1, s.v_heads, 1});
  if (!decay_rate_stored) for (float& a : w.decay_rate) a = -std::exp(a);
  w.norm = read(p + "o_norm.weight", {dim});
  w.out_proj = stacked({{p + "o_proj.weight", hidden}}, width);
  return w;
}

void kimi_delta_layer(ThreadPool& pool, const ModelConfig& config, const KimiDeltaWeights& w, LinearStatePool& states,
                      int linear_layer, const ForwardBatch& b, const float* hidden, float* out, LinearOrder order,
                      KimiDeltaScratch& scratch) {
  const LinearAttentionShape s(config);
  const int tokens = b.num_tokens, heads = s.v_heads, dim = s.k_dim, width = s.value_width();
  const int channels = s.conv_channels(), proj_width = channels + 2 * dim + heads;
  const size_t n = static_cast<size_t>(tokens);
  scratch.proj.resize(n * proj_width);
  scratch.low_rank.resize(n * dim);
  scratch.decay.resize(n * width);
  scratch.gate.resize(n * width);
  scratch.mixed.resize(n * channels);
  scratch.core.resize(n * width + n * heads);  // the outputs, then beta
  scratch.normed.resize(n * width);
  linear(pool, hidden, tokens, w.in_proj, nullptr, scratch.proj.data(), order);
  // The low-rank decay and output gate: f_a / g_a rows sit after the conv channels.
  gather_columns(scratch.proj.data() + channels, tokens, proj_width, dim, scratch.low_rank.data());
  linear(pool, scratch.low_rank.data(), tokens, w.f_b, nullptr, scratch.decay.data(), order);
  gather_columns(scratch.proj.data() + channels + dim, tokens, proj_width, dim, scratch.low_rank.data());
  linear(pool, scratch.low_rank.data(), tokens, w.g_b, nullptr, scratch.gate.data(), order);
  float* beta = scratch.core.data() + n * width;
  for (int t = 0; t < tokens; ++t) {
    float* g = scratch.decay.data() + static_cast<size_t>(t) * width;
    for (int c = 0; c < width; ++c) g[c] = w.decay_rate[c / dim] * softplus(g[c] + w.dt_bias[c]);
    const float* b_row = scratch.proj.data() + static_cast<size_t>(t) * proj_width + channels + 2 * dim;
    for (int h = 0; h < heads; ++h) beta[static_cast<size_t>(t) * heads + h] = 1.f / (1.f + std::exp(-b_row[h]));
  }
  const float q_scale = 1.f / std::sqrt(static_cast<float>(dim));
  for (int seq = 0; seq < b.num_seqs; ++seq) {
    const int begin = b.query_start_loc[seq], rows = b.query_start_loc[seq + 1] - begin;
    if (rows == 0) continue;
    const int slot = b.state_slots[seq];
    float* mixed = scratch.mixed.data() + static_cast<size_t>(begin) * channels;
    causal_conv1d_silu(pool, scratch.proj.data() + static_cast<size_t>(begin) * proj_width, rows, proj_width, channels,
                       w.conv.data(), s.kernel, states.conv(linear_layer, slot), mixed, channels);
    for (int t = 0; t < rows; ++t) {
      float* row = mixed + static_cast<size_t>(t) * channels;
      l2_normalize_heads(row, heads, dim, q_scale);
      l2_normalize_heads(row + width, heads, dim, 1.f);
    }
    DeltaRuleRows in{mixed, mixed + width, mixed + 2 * width, channels, channels, channels,
                     scratch.decay.data() + static_cast<size_t>(begin) * width, beta + static_cast<size_t>(begin) * heads, rows};
    in.channel_decay = true;
    gated_delta_rule(pool, in, heads, heads, dim, dim, states.recurrent(linear_layer, slot),
                     scratch.core.data() + static_cast<size_t>(begin) * width);
  }
  rms_norm_gated(pool, scratch.core.data(), scratch.gate.data(), w.norm.data(), tokens * heads, dim, config.rms_norm_eps,
                 scratch.normed.data(), /*sigmoid_gate=*/true);
  linear(pool, scratch.normed.data(), tokens, w.out_proj, nullptr, out, order);
}

}  // namespace cpu
}  // namespace pagedllm
