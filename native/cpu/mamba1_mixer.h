// The Mamba-1 mixer (the original selective scan: Mamba, Falcon-Mamba, Jamba), as transformers' torch path computes
// it: in_proj -> [x | z]; causal depthwise conv1d (+ bias, silu) over x carrying its conv state; x_proj -> [dt | B | C]
// (Falcon-Mamba and Jamba RMS-normalise each of the three); dt_proj (+ bias) lifts dt to every channel; then per
// channel d, with A = -exp(A_log) [inner, state]:
//   dt = softplus(dt_d);  s_d <- exp(dt * A_d) * s_d + dt * x_d * B;  y_d = (s_d . C + D_d * x_d) * silu(z_d)
// and out_proj. No norm on y (Mamba-2's gated RMSNorm has no counterpart). Token by token, so prefill chunks and
// decode steps continue one state. Zamba's heads (Mamba1Config::heads): each run of head_dim channels has its own x_proj
// and dt_proj, held as one block-diagonal matrix each (zeros add nothing), so head h's channels read its own dt, B, C.
#pragma once
#include <string>
#include <vector>

#include "kernels.h"
#include "linear_attention.h"

namespace pagedllm {
namespace cpu {

struct Mamba1Weights {
  WeightMatrix in_proj;          // rows: x [inner], z [inner]
  std::vector<float> conv;       // [inner, kernel]
  std::vector<float> conv_bias;  // [inner], empty without
  WeightMatrix x_proj;           // rows: dt [dt_rank], B [state], C [state] (per head, block-diagonal over the heads' channels)
  WeightMatrix dt_proj;          // [inner, dt_rank] (per head: [inner, heads * dt_rank], block-diagonal)
  std::vector<float> dt_bias;    // dt_proj.bias [inner]
  std::vector<float> decay;      // A = -exp(A_log) [inner, state]
  std::vector<float> d_skip;     // D [inner]
  std::vector<float> dt_norm, b_norm, c_norm;  // the dt / B / C RMSNorms' weights (ones when unweighted), empty without
  WeightMatrix out_proj;
  uint64_t bytes() const;
};

// Loads `prefix`mamba.* (the loader's names: src/engine/model/mamba1-tensors.ts). decay_rate_stored: A_log holds
// -exp(A_log) already (a GGUF file's ssm_a), taken as it is.
Mamba1Weights load_mamba1(const ModelConfig& config, const std::string& prefix, const ReadFloats& read, const LoadStacked& stacked,
                          bool decay_rate_stored);

// The selective scan over one sequence's rows: x [rows, inner] at x_stride, dt [rows, inner] (dt_proj's output with
// its bias, before softplus), B and C [rows, state] at bc_stride, z [rows, inner] at z_stride; `state` [inner, state]
// (fp32) advanced; y [rows, inner] = (s . C + D x) * silu(z). Channel d reads the B and C of its head, d / head_dim,
// which lie head_stride floats after the previous head's.
struct SelectiveScanRows {
  const float* x;
  int x_stride;
  const float* dt;
  const float* b;
  const float* c;
  int bc_stride;
  const float* z;
  int z_stride;
  int rows;
  int head_dim;
  int head_stride;
};
void selective_scan(ThreadPool& pool, const Mamba1Config& m, const SelectiveScanRows& in, const float* decay, const float* d_skip,
                    float* state, float* y);

struct Mamba1Scratch {
  std::vector<float> proj, conv, bcdt, dt_low, dt, y;
};

// One Mamba-1 layer over the batch: hidden [tokens, hidden_size] in, out [tokens, hidden_size]; each sequence's rows
// read and advance the states of its slot (b.state_slots).
void mamba1_layer(ThreadPool& pool, const ModelConfig& config, const Mamba1Weights& w, LinearStatePool& states, int state_layer,
                  const ForwardBatch& b, const float* hidden, float* out, LinearOrder order, Mamba1Scratch& scratch);

}  // namespace cpu
}  // namespace pagedllm
