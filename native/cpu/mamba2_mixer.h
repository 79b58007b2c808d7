// The Mamba-2 mixer of hybrid state-space models (Granite 4.0 hybrid, Bamba, Mamba2), as transformers' torch path
// computes it: in_proj -> [z | xBC | dt]; causal depthwise conv1d (+ bias, silu) over xBC carrying its conv state;
// the SSD recurrence per head with A = -exp(A_log), dt = softplus(dt + dt_bias) clamped to time_step_limit, B and C
// shared by each group's heads, the D skip; then y * silu(z) RMS-normalised per norm group (Falcon-H1: normalised
// before the gate, or no norm; and its multipliers on in_proj's parts); out_proj. The recurrence
// runs token by token (the exact recurrent form), so prefill chunks and decode steps continue one state.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "kernels.h"
#include "linear_attention.h"

namespace pagedllm {
namespace cpu {

struct Mamba2Weights {
  WeightMatrix in_proj;             // rows: z [inner], xBC [conv channels], dt [heads]
  std::vector<float> conv;          // [conv channels, kernel]
  std::vector<float> conv_bias;     // [conv channels], empty without
  std::vector<float> dt_bias;       // [heads]
  std::vector<float> decay_rate;    // A = -exp(A_log) [heads]
  std::vector<float> d_skip;        // D [heads]
  std::vector<float> norm;          // the gated RMSNorm's weight [inner]
  WeightMatrix out_proj;
  uint64_t bytes() const;
};

// Loads `prefix`mamba.* (the loader's names: src/engine/model/mamba2-tensors.ts).
Mamba2Weights load_mamba2(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const ReadDecayRate& decay_rate,
                          const LoadStacked& stacked);

// The SSD recurrence over one sequence's rows: per head h (group g = h / (heads / groups)) and token t,
//   dt = clamp(softplus(dt_raw[t][h] + dt_bias[h]), dt_min, dt_max);  S_h <- S_h * exp(dt * A[h]) + dt * x_t,h B_t,g^T
//   y[t][h] = S_h C_t,g + D[h] * x_t,h
// with S_h the [head_dim, state] state of head h (`state`: [heads, head_dim, state], fp32). x, B, C are read at
// x_stride from `x` (B and C follow x in each row: x [inner], B [groups * state], C [groups * state]); dt_raw
// [rows] at dt_stride; y [rows, inner].
struct SsdRows {
  const float* x;
  int x_stride;
  const float* dt_raw;
  int dt_stride;
  int rows;
};
void ssd_recurrence(ThreadPool& pool, const Mamba2Config& m, const SsdRows& in, const float* dt_bias, const float* decay_rate,
                    const float* d_skip, float* state, float* y);

// out = weight * rms_groups(y * silu(z)) (kGateThenNorm), weight * rms_groups(y) * silu(z) (kNormThenGate) or y * silu(z)
// (kGateOnly; weight unread): each row's values normalised in groups of `group`.
void gated_group_rms_norm(ThreadPool& pool, Mamba2GatedNorm kind, const float* y, const float* z, int z_stride, const float* weight,
                          int rows, int width, int group, float eps, float* out);

// Falcon-H1: in_proj's output rows [tokens, in_proj_rows] times their part's multiplier (m.falcon_h1.in_proj).
void scale_projections(const Mamba2Config& m, float* proj, int tokens);

struct Mamba2Scratch {
  std::vector<float> proj, xbc, y, normed;
};

// One Mamba-2 layer over the batch: hidden [tokens, hidden_size] in, out [tokens, hidden_size]; each sequence's rows
// read and advance the states of its slot (b.state_slots).
void mamba2_layer(ThreadPool& pool, const ModelConfig& config, const Mamba2Weights& w, LinearStatePool& states,
                  int state_layer, const ForwardBatch& b, const float* hidden, float* out, LinearOrder order,
                  Mamba2Scratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
