// The Gated DeltaNet kernels of hybrid linear-attention models (Qwen 3.5), each plain data in, plain data out, so tests
// hold them to a float64 reference alone: the causal depthwise conv1d with its carried state, the gated delta rule
// over a run of tokens with its recurrent state, and RMSNormGated. One sequence per call; linear_attention.cpp runs
// them per sequence of a batch.
#pragma once
#include <cstddef>

#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// out[t][c] = silu(sum_j weight[c][j] * in[t - (kernel - 1) + j][c]) over rows t of one sequence, where inputs before
// its first row come from `state` ([channels, kernel - 1], oldest first; zeros for a fresh sequence). `state` then
// holds the last kernel - 1 inputs, so the next chunk or decode token continues where this one stopped. `bias`
// ([channels], Mamba-2's conv1d.bias) is added before the silu; null: none. `apply_silu` false: the sum as is (LFM2's
// short convolution has no activation).
void causal_conv1d_silu(ThreadPool& pool, const float* in, int rows, int in_stride, int channels, const float* weight,
                        int kernel, float* state, float* out, int out_stride, const float* bias = nullptr,
                        bool apply_silu = true);

// The gated delta rule, token by token (the exact recurrent form), for one sequence:
//   S_h <- S_h * exp(g[t][h]) (with channel_decay, Kimi Delta Attention's: row i of S_h * exp(g[t][h][i]));  S_h <- S_h + k_t (beta[t][h] * (v_t - S_h^T k_t))^T;  out[t][h] = S_h^T q_t
// with S_h the [k_dim, v_dim] state of value head h (`state`: [v_heads, k_dim, v_dim], fp32) and q_t, k_t the rows of
// key head h / (v_heads / k_heads) (h % k_heads with tiled_heads: llama.cpp's order). q and k come normalised and q scaled as the model wants them. Rows: q and k
// [rows, k_heads * k_dim] at q_stride / k_stride, v [rows, v_heads * v_dim] at v_stride, g and beta [rows, v_heads]
// (g [rows, v_heads, k_dim] with channel_decay), out [rows, v_heads * v_dim].
struct DeltaRuleRows {
  const float* q;
  const float* k;
  const float* v;
  int q_stride, k_stride, v_stride;
  const float* g;
  const float* beta;
  int rows;
  bool channel_decay = false;
};
void gated_delta_rule(ThreadPool& pool, const DeltaRuleRows& in, int k_heads, int v_heads, int k_dim, int v_dim,
                      float* state, float* out, bool tiled_heads = false);

// RMSNormGated: out = weight * x / rms(x) * silu(z) per row of `dim` values (rows of heads: x [rows, dim], z likewise);
// sigmoid(z) in place of silu(z) with sigmoid_gate (Kimi Linear's o_norm).
void rms_norm_gated(ThreadPool& pool, const float* x, const float* z, const float* weight, int rows, int dim, float eps,
                    float* out, bool sigmoid_gate = false);

// Qwen 3.5's gated full attention: out[t][i] *= sigmoid(gate[t * gate_stride + i]) for i < width.
void sigmoid_gate(ThreadPool& pool, const float* gate, int gate_stride, float* out, int rows, int width);

}  // namespace cpu
}  // namespace pagedllm
