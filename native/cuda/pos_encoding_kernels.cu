// Rotary position embedding (HF rotate_half layout) with linear, llama3 or per-frequency divisor (yarn, longrope)
// rope scaling, in place on q and k.
#include <algorithm>
#include <cmath>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

std::vector<float> rope_inv_freq(const ModelConfig& model) {
  // Partial rotary (Phi-3's partial_rotary_factor): frequencies over the rotated values only, base^(2i / rotary_dim).
  const int dim = model.rotary_dim > 0 ? model.rotary_dim : model.head_dim;
  const int half = dim / 2;
  std::vector<float> inv_freq(half);
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < half; ++i) {
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
      freq /= model.rope_divisors[i];
    }
    inv_freq[i] = float(freq);
  }
  return inv_freq;
}

// One block per token. cos/sin are computed once per token in double precision: angles reach thousands of
// radians at long positions, where the fast-math float sincos loses accuracy. Only the first rotary_dim values of each
// head (of head_dim) turn, rotate_half within them; the rest pass through.
__global__ void rotary_kernel(float* __restrict__ qkv, int row_stride, const int32_t* __restrict__ positions, int num_heads,
                              int num_kv_heads, int head_dim, int rotary_dim, const float* __restrict__ inv_freq,
                              float attention_factor) {
  extern __shared__ float cos_sin[];  // [half] cos, then [half] sin
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

void rotary_embedding(float* qkv, int row_stride, const int32_t* positions, int num_tokens, int num_heads, int num_kv_heads,
                      int head_dim, const float* inv_freq, cudaStream_t stream, float attention_factor, int rotary_dim) {
  if (num_tokens == 0) return;
  const int rotated = rotary_dim > 0 ? rotary_dim : head_dim;
  if (rotated % 2 != 0 || rotated > head_dim) throw std::runtime_error("rotary_embedding: rotary_dim must be even and at most head_dim");
  // A thread per rotated pair (up to 1024): a decode step's single token is otherwise a long dependent loop.
  const int pairs = (num_heads + num_kv_heads) * (rotated / 2);
  const int threads = std::min(1024, (std::max(pairs, rotated / 2) + 31) / 32 * 32);
  rotary_kernel<<<num_tokens, threads, rotated * sizeof(float), stream>>>(qkv, row_stride, positions, num_heads, num_kv_heads,
                                                                         head_dim, rotated, inv_freq, attention_factor);
  PAGEDLLM_CUDA_CHECK_LAUNCH("rotary_kernel");
}

}  // namespace pagedllm::cuda
