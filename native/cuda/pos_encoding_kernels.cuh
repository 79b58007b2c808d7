// The rotary embedding kernel (pos_encoding_kernels.cu launches it) and the host's side of it: each frequency under
// the model's rope scaling, the block size. Device code that leans only on its includer (cuda_common.cuh, or
// emulation/cuda_emulation.h, which runs all of it on the CPU in emulation/pos_encoding.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "pagedllm/backend.h"

namespace pagedllm::cuda {

// Frequency i of the rotated values (rope_inv_freq's table). Partial rotary (Phi-3's partial_rotary_factor):
// frequencies over the rotated values only, base^(2i / rotary_dim).
inline double rope_frequency(const ModelConfig& model, int i) {
  const int dim = model.rotary_dim > 0 ? model.rotary_dim : model.head_dim;
  const double pi = 3.14159265358979323846;
  double freq = 1.0 / std::pow(double(model.rope_theta), 2.0 * i / dim);
  if (model.rope_scaling == RopeScaling::Linear) {
    freq /= model.rope_factor;  // same as dividing positions by the factor
  } else if (model.rope_scaling == RopeScaling::Llama3) {
    // Llama 3.1: keep high frequencies, divide low ones by the factor, interpolate in between.
    const double low_freq_wavelen = model.rope_original_max_position / double(model.rope_low_freq_factor);
    const double high_freq_wavelen = model.rope_original_max_position / double(model.rope_high_freq_factor);
    const double wavelen = 2 * pi / freq;
    if (wavelen > low_freq_wavelen) {
      freq /= model.rope_factor;
    } else if (wavelen >= high_freq_wavelen) {
      const double smooth = (model.rope_original_max_position / wavelen - model.rope_low_freq_factor) /
                            (model.rope_high_freq_factor - model.rope_low_freq_factor);
      freq = (1 - smooth) * freq / model.rope_factor + smooth * freq;
    }
  } else if (model.rope_scaling == RopeScaling::Divisors) {
    freq /= model.rope_divisors[i];  // yarn, longrope: a divisor per frequency, formed at load
  }
  return freq;
}

// A thread per rotated pair (up to 1024): a decode step's single token is otherwise a long dependent loop.
inline int rotary_threads(int num_heads, int num_kv_heads, int rotary_dim) {
  const int pairs = (num_heads + num_kv_heads) * (rotary_dim / 2);
  return std::min(1024, (std::max(pairs, rotary_dim / 2) + 31) / 32 * 32);
}

// One block per token. cos/sin are computed once per token in double precision: angles reach thousands of
// radians at long positions, where the fast-math float sincos loses accuracy. Only the first rotary_dim values of each
// head (of head_dim) turn, rotate_half within them; the rest pass through.
__global__ void rotary_kernel(float* __restrict__ qkv, int row_stride, const int32_t* __restrict__ positions, int num_heads,
                              int num_kv_heads, int head_dim, int rotary_dim, const float* __restrict__ inv_freq,
                              float attention_factor) {
  PAGEDLLM_DYNAMIC_SHARED(float, cos_sin);  // [half] cos, then [half] sin
  const int half = rotary_dim / 2;
  const double position = positions[blockIdx.x];
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    double s, c;
    sincos(position * double(inv_freq[i]), &s, &c);
    cos_sin[i] = float(c * attention_factor);
    cos_sin[half + i] = float(s * attention_factor);
  }
  __syncthreads();
  float* row = qkv + int64_t(blockIdx.x) * row_stride;
  const int total = (num_heads + num_kv_heads) * half;  // q heads then k heads, contiguous in the row
  for (int j = threadIdx.x; j < total; j += blockDim.x) {
    const int head = j / half, i = j % half;
    float* x = row + head * head_dim;
    const float x1 = x[i], x2 = x[i + half];
    x[i] = x1 * cos_sin[i] - x2 * cos_sin[half + i];
    x[i + half] = x2 * cos_sin[i] + x1 * cos_sin[half + i];
  }
}

}  // namespace pagedllm::cuda
