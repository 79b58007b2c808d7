// Llama 4's steps around the shared attention ops (src/engine/model/llama4-config.ts): the weightless q/k RMS norm of
// its rope layers and the position-dependent query temperature of its NoPE layers.
#pragma once
#include <cstdint>

#include "kernels.h"

namespace pagedllm {
namespace cpu {

// Llama4TextL2Norm on every q and k head of one layer's rows (after rope): x * rsqrt(mean(x^2) + eps), no weight.
void unit_qk_norm(ThreadPool& pool, const ModelConfig& config, float* qkv, int num_rows, int row_stride);

// attn_temperature_tuning: each row's query heads times log1p(floor((p + 1) / floor_scale)) * attn_scale + 1, computed
// in fp32 as transformers does; positions [num_rows].
void temperature_tune_queries(const ModelConfig& config, float* qkv, int num_rows, int row_stride, const int32_t* positions);

}  // namespace cpu
}  // namespace pagedllm
