// Entry points of the AVX2/FMA/F16C kernels; their .cpp files (*_avx2.cpp) alone are compiled for x86-64-v3,
// and the dispatchers call them only after checking the CPU at run time.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

// y[m, n] for m in [row_begin, row_end), n in [col_begin, col_end); ld = row stride of y.
void linear_block(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
                  const float* bias, float* y);

// One attention work item: query rows [row_begin, row_end) of one sequence against KV heads
// [kv_head_begin, kv_head_end), each block visited once for all of them.
void attention_item(const float* query, int q_stride, const float* key_cache, const float* value_cache,
                    const int32_t* positions, const int32_t* block_table, int row_begin, int row_end, int kv_head_begin,
                    int kv_head_end, int heads_per_kv, const KvLayout& layout, float scale, float* out, int out_stride,
                    float softcap, int sliding_window, const float* alibi_slopes, const float* sinks, int value_head_shift);

// RMSNorm and rotary embedding for rows [row_begin, row_end): see cpu::rms_norm, fused_add_rms_norm, head_rms_norm, rotary.
void rms_norm_rows(const float* x, const float* weight, float* out, int row_begin, int row_end, int dim, float eps);
void fused_add_rms_norm_rows(float* x, float* residual, const float* weight, int row_begin, int row_end, int dim, float eps);
void head_rms_norm_rows(float* x, int row_begin, int row_end, int row_stride, int num_heads, int head_dim, const float* weight,
                        float eps);
void rotary_rows(float* x, int row_begin, int row_end, int row_stride, int num_heads, int head_dim, int head_stride, const float* cos_sin);

// SwiGLU rows [row_begin, row_end): see cpu::silu_and_mul.
void silu_and_mul_rows(const float* gate_up, float* out, int row_begin, int row_end, int dim);
// GeGLU rows [row_begin, row_end): see cpu::gelu_tanh_and_mul.
void gelu_tanh_and_mul_rows(const float* gate_up, float* out, int row_begin, int row_end, int dim);

// One row's max, first argmax and sum of exp(x - max) (0 when the max is not finite), for cpu::row_stats.
// Plain aggregate (no constructor): nothing inline is shared between the AVX2 and the portable files.
struct RowExpSum {
  float max;
  int argmax;
  double shifted_exp_sum;
  bool has_nan;
};
RowExpSum row_exp_sum(const float* row, int vocab);

// Sum of n floats with 256-bit loads (the read-bandwidth ceiling).
float sum_array(const float* x, size_t n);
// out[i] = x[i] + scale * y[i] with 256-bit loads and stores (the triad ceiling).
void triad(float* out, const float* x, const float* y, float scale, size_t n);

// Runs `iterations` rounds of independent FMA chains; returns a value that depends on them (keeps them alive).
float fma_chains(long iterations);

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
