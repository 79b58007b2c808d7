// The Mamba-1 mixer (mamba1_mixer.h): weights, the selective scan and the layer's forward.
#include "mamba1_mixer.h"

#include <algorithm>
#include <cmath>

#include "gated_delta.h"
#include "scalar_activations.h"

namespace pagedllm {
namespace cpu {


uint64_t Mamba1Weights::bytes() const {
  return in_proj.bytes() + x_proj.bytes() + dt_proj.bytes() + out_proj.bytes() +
         (conv.size() + conv_bias.size() + dt_bias.size() + decay.size() + d_skip.size() + dt_norm.size() + b_norm.size() +
          c_norm.size()) * 4;
}

namespace {

// Zamba's per-head projections [heads, rows, cols] as one f32 matrix [heads * rows, heads * cols], head h's block on the
// diagonal and zeros elsewhere (small: x_proj and dt_proj only).
WeightMatrix block_diagonal(const std::vector<float>& blocks, int heads, int rows, int cols) {
  std::vector<float> full(static_cast<size_t>(heads) * rows * heads * cols, 0.f);
  for (int h = 0; h < heads; ++h) {
    for (int r = 0; r < rows; ++r) {
      const float* from = blocks.data() + (static_cast<size_t>(h) * rows + r) * cols;
      std::copy(from, from + cols, full.begin() + (static_cast<size_t>(h) * rows + r) * heads * cols + static_cast<size_t>(h) * cols);
    }
  }
  WeightMatrix matrix;
  matrix.resize(WeightFormat::F32, heads * rows, heads * cols);
  matrix.store_rows(0, heads * rows, full.data());
  return matrix;
}

}  // namespace

Mamba1Weights load_mamba1(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const LoadStacked& stacked,
                          bool decay_rate_stored) {
  const Mamba1Config& m = config.mamba1;
  const std::string p = prefix + "mamba.";
  Mamba1Weights w;
  w.in_proj = stacked({{p + "in_proj.weight", 2 * m.inner}}, config.hidden_size);
  w.conv = read(p + "conv1d.weight", {m.inner, 1, m.conv_kernel});
  if (m.conv_bias) w.conv_bias = read(p + "conv1d.bias", {m.inner});
  if (m.heads == 1) {
    w.x_proj = stacked({{p + "x_proj.weight", m.x_proj_rows()}}, m.inner);
    w.dt_proj = stacked({{p + "dt_proj.weight", m.inner}}, m.dt_rank);
  } else {
    w.x_proj = block_diagonal(read(p + "x_proj.weight", {m.heads, m.x_proj_rows(), m.head_dim()}), m.heads, m.x_proj_rows(), m.head_dim());
    w.dt_proj = block_diagonal(read(p + "dt_proj.weight", {m.heads, m.head_dim(), m.dt_rank}), m.heads, m.head_dim(), m.dt_rank);
  }
  w.dt_bias = read(p + "dt_proj.bias", {m.inner});
  w.decay = read(p + "A_log", {m.inner, m.state_size});
  if (!decay_rate_stored) for (float& a : w.decay) a = -std::exp(a);
  w.d_skip = read(p + "D", {m.inner});
  if (m.dt_bc_norm == Mamba1DtBcNorm::kWeighted) {
    w.dt_norm = read(p + "dt_layernorm.weight", {m.dt_rank});
    w.b_norm = read(p + "b_layernorm.weight", {m.state_size});
    w.c_norm = read(p + "c_layernorm.weight", {m.state_size});
  } else if (m.dt_bc_norm == Mamba1DtBcNorm::kUnweighted) {
    w.dt_norm.assign(m.dt_rank, 1.f);  // x * 1 is x: exact
    w.b_norm.assign(m.state_size, 1.f);
    w.c_norm.assign(m.state_size, 1.f);
  }
  w.out_proj = stacked({{p + "out_proj.weight", config.hidden_size}}, m.inner);
  return w;
}

void selective_scan(ThreadPool& pool, const Mamba1Config& m, const SelectiveScanRows& in, const float* decay, const float* d_skip,
                    float* state, float* y) {
  const int n = m.state_size, inner = m.inner;
  // Channels are independent: each task scans a run of them through every row.
  const int tasks = std::max(1, std::min(inner, pool.size() * 4));
  pool.parallel_for(tasks, [&](int task) {
    const int begin = static_cast<int>(static_cast<int64_t>(inner) * task / tasks);
    const int end = static_cast<int>(static_cast<int64_t>(inner) * (task + 1) / tasks);
    for (int t = 0; t < in.rows; ++t) {
      const float* x = in.x + static_cast<size_t>(t) * in.x_stride;
      const float* dt_row = in.dt + static_cast<size_t>(t) * inner;
      const float* b_row = in.b + static_cast<size_t>(t) * in.bc_stride;
      const float* c_row = in.c + static_cast<size_t>(t) * in.bc_stride;
      const float* z = in.z + static_cast<size_t>(t) * in.z_stride;
      float* out = y + static_cast<size_t>(t) * inner;
      for (int d = begin; d < end; ++d) {
        const float* B = b_row + static_cast<size_t>(d / in.head_dim) * in.head_stride;
        const float* C = c_row + static_cast<size_t>(d / in.head_dim) * in.head_stride;
        const float dt = softplus(dt_row[d]);
        const float dx = dt * x[d];
        const float* a = decay + static_cast<size_t>(d) * n;
        float* s = state + static_cast<size_t>(d) * n;
        float sum = 0.f;
        for (int i = 0; i < n; ++i) {
          s[i] = std::exp(dt * a[i]) * s[i] + dx * B[i];
          sum += s[i] * C[i];
        }
        out[d] = (sum + d_skip[d] * x[d]) * silu(z[d]);
      }
    }
  });
}

void mamba1_layer(ThreadPool& pool, const ModelConfig& config, const Mamba1Weights& w, LinearStatePool& states, int state_layer,
                  const ForwardBatch& b, const float* hidden, float* out, LinearOrder order, Mamba1Scratch& scratch) {
  const Mamba1Config& m = config.mamba1;
  const int tokens = b.num_tokens, inner = m.inner, n = m.state_size, rank = m.dt_rank, per_head = m.x_proj_rows(), heads = m.heads;
  const int bcdt = heads * per_head;
  scratch.proj.resize(static_cast<size_t>(tokens) * 2 * inner);
  scratch.conv.resize(static_cast<size_t>(tokens) * inner);
  scratch.bcdt.resize(static_cast<size_t>(tokens) * bcdt);
  scratch.dt_low.resize(static_cast<size_t>(tokens) * heads * rank);
  scratch.dt.resize(static_cast<size_t>(tokens) * inner);
  scratch.y.resize(static_cast<size_t>(tokens) * inner);
  linear(pool, hidden, tokens, w.in_proj, nullptr, scratch.proj.data(), order);
  // The conv runs per sequence (its state is the sequence's); x_proj, the norms and dt_proj then take the whole batch.
  for (int seq = 0; seq < b.num_seqs; ++seq) {
    const int begin = b.query_start_loc[seq], count = b.query_start_loc[seq + 1] - begin;
    if (count == 0) continue;
    causal_conv1d_silu(pool, scratch.proj.data() + static_cast<size_t>(begin) * 2 * inner, count, 2 * inner, inner, w.conv.data(),
                       m.conv_kernel, states.conv(state_layer, b.state_slots[seq]), scratch.conv.data() + static_cast<size_t>(begin) * inner,
                       inner, w.conv_bias.empty() ? nullptr : w.conv_bias.data());
  }
  linear(pool, scratch.conv.data(), tokens, w.x_proj, nullptr, scratch.bcdt.data(), order);
  if (!w.dt_norm.empty()) {
    head_rms_norm(pool, scratch.bcdt.data(), tokens, bcdt, 1, rank, w.dt_norm.data(), m.dt_bc_norm_eps);
    head_rms_norm(pool, scratch.bcdt.data() + rank, tokens, bcdt, 1, n, w.b_norm.data(), m.dt_bc_norm_eps);
    head_rms_norm(pool, scratch.bcdt.data() + rank + n, tokens, bcdt, 1, n, w.c_norm.data(), m.dt_bc_norm_eps);
  }
  // Each head's dt rows, side by side for the (block-diagonal) dt_proj.
  for (int t = 0; t < tokens; ++t) {
    for (int h = 0; h < heads; ++h) {
      const float* row = scratch.bcdt.data() + static_cast<size_t>(t) * bcdt + static_cast<size_t>(h) * per_head;
      std::copy(row, row + rank, scratch.dt_low.data() + (static_cast<size_t>(t) * heads + h) * rank);
    }
  }
  linear(pool, scratch.dt_low.data(), tokens, w.dt_proj, w.dt_bias.data(), scratch.dt.data(), order);
  for (int seq = 0; seq < b.num_seqs; ++seq) {
    const int begin = b.query_start_loc[seq], count = b.query_start_loc[seq + 1] - begin;
    if (count == 0) continue;
    const float* bc = scratch.bcdt.data() + static_cast<size_t>(begin) * bcdt;
    const SelectiveScanRows in{scratch.conv.data() + static_cast<size_t>(begin) * inner, inner,
                               scratch.dt.data() + static_cast<size_t>(begin) * inner, bc + rank, bc + rank + n, bcdt,
                               scratch.proj.data() + static_cast<size_t>(begin) * 2 * inner + inner, 2 * inner, count, m.head_dim(), per_head};
    selective_scan(pool, m, in, w.decay.data(), w.d_skip.data(), states.recurrent(state_layer, b.state_slots[seq]),
                   scratch.y.data() + static_cast<size_t>(begin) * inner);
  }
  linear(pool, scratch.y.data(), tokens, w.out_proj, nullptr, out, order);
}

}  // namespace cpu
}  // namespace pagedllm
