// The Mamba-2 mixer (mamba2_mixer.h): weights, the SSD recurrence, the gated group RMSNorm and the layer's forward.
#include "mamba2_mixer.h"

#include <algorithm>
#include <cmath>

#include "gated_delta.h"
#include "scalar_activations.h"

namespace pagedllm {
namespace cpu {


uint64_t Mamba2Weights::bytes() const {
  return in_proj.bytes() + out_proj.bytes() +
         (conv.size() + conv_bias.size() + dt_bias.size() + decay_rate.size() + d_skip.size() + norm.size()) * 4;
}

Mamba2Weights load_mamba2(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const ReadDecayRate& decay_rate,
                          const LoadStacked& stacked) {
  const Mamba2Config& m = config.mamba2;
  const std::string p = prefix + "mamba.";
  Mamba2Weights w;
  w.in_proj = stacked({{p + "in_proj.weight", m.in_proj_rows()}}, config.hidden_size);
  w.conv = read(p + "conv1d.weight", {m.conv_channels(), 1, m.conv_kernel});
  if (m.conv_bias) w.conv_bias = read(p + "conv1d.bias", {m.conv_channels()});
  w.dt_bias = read(p + "dt_bias", {m.heads});
  w.decay_rate = decay_rate(p + "A_log", m.heads);
  w.d_skip = read(p + "D", {m.heads});
  if (m.gated_norm != Mamba2GatedNorm::kGateOnly) w.norm = read(p + "norm.weight", {m.inner()});
  w.out_proj = stacked({{p + "out_proj.weight", config.hidden_size}}, m.inner());
  return w;
}

void ssd_recurrence(ThreadPool& pool, const Mamba2Config& m, const SsdRows& in, const float* dt_bias, const float* decay_rate,
                    const float* d_skip, float* state, float* y) {
  const int per_group = m.heads / m.groups, n = m.state_size, p_dim = m.head_dim, inner = m.inner();
  pool.parallel_for(m.heads, [&](int h) {
    float* s = state + static_cast<size_t>(h) * p_dim * n;
    const int g = h / per_group;
    for (int t = 0; t < in.rows; ++t) {
      const float* row = in.x + static_cast<size_t>(t) * in.x_stride;
      const float* x = row + static_cast<size_t>(h) * p_dim;
      const float* B = row + inner + static_cast<size_t>(g) * n;
      const float* C = row + inner + static_cast<size_t>(m.groups) * n + static_cast<size_t>(g) * n;
      const float dt = std::min(std::max(softplus(in.dt_raw[static_cast<size_t>(t) * in.dt_stride + h] + dt_bias[h]), m.dt_min), m.dt_max);
      const float decay = std::exp(dt * decay_rate[h]);
      float* out = y + static_cast<size_t>(t) * inner + static_cast<size_t>(h) * p_dim;
      for (int p = 0; p < p_dim; ++p) {
        float* sp = s + static_cast<size_t>(p) * n;
        const float dx = dt * x[p];
        float sum = 0.f;
        for (int i = 0; i < n; ++i) {
          sp[i] = sp[i] * decay + dx * B[i];
          sum += sp[i] * C[i];
        }
        out[p] = sum + d_skip[h] * x[p];
      }
    }
  });
}

void gated_group_rms_norm(ThreadPool& pool, Mamba2GatedNorm kind, const float* y, const float* z, int z_stride, const float* weight,
                          int rows, int width, int group, float eps, float* out) {
  const int tasks = std::max(1, std::min(rows, pool.size() * 4));
  pool.parallel_for(tasks, [&](int task) {
    for (int r = task; r < rows; r += tasks) {
      const float* yr = y + static_cast<size_t>(r) * width;
      const float* zr = z + static_cast<size_t>(r) * z_stride;
      float* o = out + static_cast<size_t>(r) * width;
      const bool gate_first = kind != Mamba2GatedNorm::kNormThenGate;
      for (int i = 0; i < width; ++i) o[i] = gate_first ? yr[i] * silu(zr[i]) : yr[i];
      if (kind == Mamba2GatedNorm::kGateOnly) continue;
      for (int start = 0; start < width; start += group) {
        float sum = 0.f;
        for (int i = start; i < start + group; ++i) sum += o[i] * o[i];
        const float scale = 1.f / std::sqrt(sum / group + eps);
        for (int i = start; i < start + group; ++i) o[i] = weight[i] * (o[i] * scale);
      }
      if (!gate_first) {
        for (int i = 0; i < width; ++i) o[i] *= silu(zr[i]);
      }
    }
  });
}

void scale_projections(const Mamba2Config& m, float* proj, int tokens) {
  const int inner = m.inner(), bc = m.groups * m.state_size;
  // Each part's width in in_proj's rows: z, x, B, C, dt.
  const int widths[5] = {inner, inner, bc, bc, m.heads};
  for (int t = 0; t < tokens; ++t) {
    float* row = proj + static_cast<size_t>(t) * m.in_proj_rows();
    for (int part = 0; part < 5; ++part) {
      for (int i = 0; i < widths[part]; ++i) *row++ *= m.falcon_h1.in_proj[part];
    }
  }
}

void mamba2_layer(ThreadPool& pool, const ModelConfig& config, const Mamba2Weights& w, LinearStatePool& states,
                  int state_layer, const ForwardBatch& b, const float* hidden, float* out, LinearOrder order,
                  Mamba2Scratch& scratch) {
  const Mamba2Config& m = config.mamba2;
  const int tokens = b.num_tokens, rows = m.in_proj_rows(), channels = m.conv_channels(), inner = m.inner();
  scratch.proj.resize(static_cast<size_t>(tokens) * rows);
  scratch.xbc.resize(static_cast<size_t>(tokens) * channels);
  scratch.y.resize(static_cast<size_t>(tokens) * inner);
  scratch.normed.resize(static_cast<size_t>(tokens) * inner);
  linear(pool, hidden, tokens, w.in_proj, nullptr, scratch.proj.data(), order);
  if (m.falcon_h1.enabled) scale_projections(m, scratch.proj.data(), tokens);
  for (int seq = 0; seq < b.num_seqs; ++seq) {
    const int begin = b.query_start_loc[seq], count = b.query_start_loc[seq + 1] - begin;
    if (count == 0) continue;
    const int slot = b.state_slots[seq];
    const float* proj = scratch.proj.data() + static_cast<size_t>(begin) * rows;
    float* xbc = scratch.xbc.data() + static_cast<size_t>(begin) * channels;
    causal_conv1d_silu(pool, proj + inner, count, rows, channels, w.conv.data(), m.conv_kernel, states.conv(state_layer, slot),
                       xbc, channels, w.conv_bias.empty() ? nullptr : w.conv_bias.data());
    const SsdRows in{xbc, channels, proj + inner + channels, rows, count};
    ssd_recurrence(pool, m, in, w.dt_bias.data(), w.decay_rate.data(), w.d_skip.data(), states.recurrent(state_layer, slot),
                   scratch.y.data() + static_cast<size_t>(begin) * inner);
  }
  // z leads each projected row.
  gated_group_rms_norm(pool, m.gated_norm, scratch.y.data(), scratch.proj.data(), rows, w.norm.data(), tokens, inner, m.norm_group,
                       config.rms_norm_eps, scratch.normed.data());
  linear(pool, scratch.normed.data(), tokens, w.out_proj, nullptr, out, order);
}

}  // namespace cpu
}  // namespace pagedllm
