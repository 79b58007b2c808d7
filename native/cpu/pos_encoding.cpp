// Rotary position embedding, HF rotate_half (non-interleaved) convention, with HF's linear and llama3
// frequency scaling, or per-frequency divisors and a cos/sin factor computed at load (yarn, longrope). Angles are computed in double: positions times small frequencies lose digits in fp32.
#include <cmath>

#include "kernels_avx2.h"
#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

std::vector<double> rope_inv_freq(const ModelConfig& config) {
  // Partial rotary (GPT-NeoX, Phi-3's partial_rotary_factor): frequencies over the rotated values only, base^(2i / rotary_dim).
  const int dim = config.rotary_dim > 0 ? config.rotary_dim : config.head_dim;
  const int half = dim / 2;
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) inv_freq[i] = 1.0 / std::pow(static_cast<double>(config.rope_theta), 2.0 * i / dim);
  if (config.rope_scaling == RopeScaling::Linear) {
    for (double& f : inv_freq) f /= config.rope_factor;
  } else if (config.rope_scaling == RopeScaling::Llama3) {
    // transformers' _compute_llama3_parameters: long wavelengths are slowed by `factor`, short ones kept,
    // and the band between is interpolated smoothly.
    const double old_context = config.rope_original_max_position;
    const double low_wavelen = old_context / config.rope_low_freq_factor;
    const double high_wavelen = old_context / config.rope_high_freq_factor;
    for (double& f : inv_freq) {
      const double wavelen = 2 * M_PI / f;
      if (wavelen > low_wavelen) {
        f = f / config.rope_factor;
      } else if (wavelen >= high_wavelen) {
        double smooth = (old_context / wavelen - config.rope_low_freq_factor) /
                        (config.rope_high_freq_factor - config.rope_low_freq_factor);
        f = (1 - smooth) * f / config.rope_factor + smooth * f;
      }
    }
  } else if (config.rope_scaling == RopeScaling::Divisors) {
    for (int i = 0; i < half; ++i) inv_freq[i] /= config.rope_divisors[i];
  }
  return inv_freq;
}

std::vector<double> local_rope_inv_freq(const ModelConfig& config) {
  if (config.rope_local_theta <= 0.f) return {};
  return rope_inv_freq(local_rope_config(config));
}

void rope_cos_sin(const int32_t* positions, int num_rows, const std::vector<double>& inv_freq, float* table, double attention_factor) {
  const int half = static_cast<int>(inv_freq.size());
  for (int r = 0; r < num_rows; ++r) {
    float* row = table + static_cast<size_t>(r) * 2 * half;
    for (int i = 0; i < half; ++i) {
      const double angle = static_cast<double>(positions[r]) * inv_freq[i];
      row[i] = static_cast<float>(std::cos(angle) * attention_factor);
      row[half + i] = static_cast<float>(std::sin(angle) * attention_factor);
    }
  }
}

void rotary(ThreadPool& pool, float* x, int num_rows, int row_stride, int num_heads, int head_dim, const float* cos_sin, int head_stride) {
  const int half = head_dim / 2;
  if (head_stride == 0) head_stride = head_dim;
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, static_cast<size_t>(num_heads) * head_dim, [&](int begin, int end) {
    if (vector) return avx2::rotary_rows(x, begin, end, row_stride, num_heads, head_dim, head_stride, cos_sin);
    for (int r = begin; r < end; ++r) {
      const float* cos_row = cos_sin + static_cast<size_t>(r) * head_dim;
      const float* sin_row = cos_row + half;
      float* row = x + static_cast<size_t>(r) * row_stride;
      for (int h = 0; h < num_heads; ++h) {
        float* first = row + static_cast<size_t>(h) * head_stride;
        float* second = first + half;
        for (int i = 0; i < half; ++i) {
          const float a = first[i], b = second[i];
          first[i] = a * cos_row[i] - b * sin_row[i];
          second[i] = b * cos_row[i] + a * sin_row[i];
        }
      }
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
