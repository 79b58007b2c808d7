// Scalar quantize / dequantize of the ggml block formats (load time, embeddings, tests) and the activation blocks.
#include "quant_formats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "dtype_convert.h"

namespace pagedllm {
namespace cpu {

bool is_quantized(WeightFormat format) {
  return format != WeightFormat::F32 && format != WeightFormat::BF16 && format != WeightFormat::F16;
}

bool has_kernel(WeightFormat format) { return is_quantized(format) && load_format(format) == format; }

// IQ4_XS is IQ4_NL with 6-bit sub-block scales: as IQ4_NL its codes stay, only the scales d * (s - 32) round to f16.
// TQ1_0 / TQ2_0 values are a code in {-1, 0, 1} (2 for TQ2_0's unused code 3) times an f16 d: as Q8_0, exactly.
WeightFormat load_format(WeightFormat stored) {
  switch (stored) {
    case WeightFormat::IQ4_XS: return WeightFormat::IQ4_NL;
    case WeightFormat::TQ1_0:
    case WeightFormat::TQ2_0: return WeightFormat::Q8_0;
    default: return stored;
  }
}

bool is_k_quant(WeightFormat format) { return is_quantized(format) && format_block_values(format) == kSuperBlock; }

int format_block_values(WeightFormat format) {
  switch (format) {
    case WeightFormat::Q8_0:
    case WeightFormat::Q4_0:
    case WeightFormat::Q4_1:
    case WeightFormat::Q5_0:
    case WeightFormat::Q5_1:
    case WeightFormat::IQ4_NL: return kQuantBlock;
    case WeightFormat::Q2_K:
    case WeightFormat::Q3_K:
    case WeightFormat::Q4_K:
    case WeightFormat::Q5_K:
    case WeightFormat::Q6_K:
    case WeightFormat::IQ4_XS:
    case WeightFormat::TQ1_0:
    case WeightFormat::TQ2_0: return kSuperBlock;
    default: return 1;
  }
}

size_t format_block_bytes(WeightFormat format) {
  switch (format) {
    case WeightFormat::F32: return 4;
    case WeightFormat::BF16:
    case WeightFormat::F16: return 2;
    case WeightFormat::Q8_0: return sizeof(BlockQ8_0);
    case WeightFormat::Q4_0: return sizeof(BlockQ4_0);
    case WeightFormat::Q4_1: return sizeof(BlockQ4_1);
    case WeightFormat::Q5_0: return sizeof(BlockQ5_0);
    case WeightFormat::Q5_1: return sizeof(BlockQ5_1);
    case WeightFormat::IQ4_NL: return sizeof(BlockIQ4_NL);
    case WeightFormat::Q2_K: return sizeof(BlockQ2_K);
    case WeightFormat::Q3_K: return sizeof(BlockQ3_K);
    case WeightFormat::Q4_K: return sizeof(BlockQ4_K);
    case WeightFormat::Q5_K: return sizeof(BlockQ5_K);
    case WeightFormat::Q6_K: return sizeof(BlockQ6_K);
    case WeightFormat::IQ4_XS: return sizeof(BlockIQ4_XS);
    case WeightFormat::TQ1_0: return sizeof(BlockTQ1_0);
    case WeightFormat::TQ2_0: return sizeof(BlockTQ2_0);
  }
  return 4;
}

size_t weight_row_bytes(WeightFormat format, int cols) {
  return static_cast<size_t>(cols / format_block_values(format)) * format_block_bytes(format);
}

const char* format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::F32: return "f32";
    case WeightFormat::BF16: return "bf16";
    case WeightFormat::F16: return "f16";
    case WeightFormat::Q8_0: return "q8_0";
    case WeightFormat::Q4_0: return "q4_0";
    case WeightFormat::Q4_1: return "q4_1";
    case WeightFormat::Q5_0: return "q5_0";
    case WeightFormat::Q5_1: return "q5_1";
    case WeightFormat::IQ4_NL: return "iq4_nl";
    case WeightFormat::Q2_K: return "q2_k";
    case WeightFormat::Q3_K: return "q3_k";
    case WeightFormat::Q4_K: return "q4_k";
    case WeightFormat::Q5_K: return "q5_k";
    case WeightFormat::Q6_K: return "q6_k";
    case WeightFormat::IQ4_XS: return "iq4_xs";
    case WeightFormat::TQ1_0: return "tq1_0";
    case WeightFormat::TQ2_0: return "tq2_0";
  }
  return "?";
}

namespace {

void quantize_q8_0(const float* x, BlockQ8_0* out) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f;
  const float id = d > 0 ? 1.f / d : 0.f;
  out->d = f32_to_f16(d);
  for (int i = 0; i < 32; ++i) out->qs[i] = static_cast<int8_t>(clamp_round(x[i] * id, -127, 127));
}

void quantize_q4_0(const float* x, BlockQ4_0* out) {
  const float d = signed_absmax(x, 32) / -8.f;
  const float id = d != 0 ? 1.f / d : 0.f;
  out->d = f32_to_f16(d);
  for (int i = 0; i < 16; ++i) {
    const int lo = clamp_round(x[i] * id, -8, 7) + 8, hi = clamp_round(x[i + 16] * id, -8, 7) + 8;
    out->qs[i] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

// Per sub-block an affine range [min, max] (min <= 0) on 16 levels; scales and mins to 6 bits against the
// block's largest, then codes against the rounded scales so dequantization sees what was used.
void quantize_q4_k(const float* x, BlockQ4_K* out) {
  float scale[8], min[8], max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* sub = x + 32 * j;
    float lo = 0, hi = sub[0];
    for (int i = 0; i < 32; ++i) lo = std::min(lo, sub[i]), hi = std::max(hi, sub[i]);
    scale[j] = std::max(0.f, hi - lo) / 15.f;
    min[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  const float d = max_scale / 63.f, dmin = max_min / 63.f;
  out->d = f32_to_f16(d);
  out->dmin = f32_to_f16(dmin);
  const float d_used = f16_to_f32(out->d), dmin_used = f16_to_f32(out->dmin);
  std::memset(out->scales, 0, sizeof(out->scales));
  std::memset(out->qs, 0, sizeof(out->qs));
  for (int j = 0; j < 8; ++j) {
    const int ls = d > 0 ? clamp_round(scale[j] / d, 0, 63) : 0;
    const int lm = dmin > 0 ? clamp_round(min[j] / dmin, 0, 63) : 0;
    q4_k_pack_scale_min(out->scales, j, ls, lm);
    const float step = d_used * ls, offset = dmin_used * lm;
    for (int l = 0; l < 32; ++l) {
      const int q = step > 0 ? clamp_round((x[32 * j + l] + offset) / step, 0, 15) : 0;
      out->qs[32 * (j / 2) + l] |= static_cast<uint8_t>(j % 2 ? q << 4 : q);
    }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* out) {
  float scale[16], extreme = 0;
  for (int j = 0; j < 16; ++j) {
    scale[j] = signed_absmax(x + 16 * j, 16) / -32.f;
    if (std::fabs(scale[j]) > std::fabs(extreme)) extreme = scale[j];
  }
  const float d = extreme / -128.f;
  out->d = f32_to_f16(d);
  const float d_used = f16_to_f32(out->d);
  std::memset(out->ql, 0, sizeof(out->ql));
  std::memset(out->qh, 0, sizeof(out->qh));
  for (int j = 0; j < 16; ++j) out->scales[j] = static_cast<int8_t>(d != 0 ? clamp_round(scale[j] / d, -128, 127) : 0);
  for (int e = 0; e < 256; ++e) {
    const float step = d_used * out->scales[e / 16];
    const int q = (step != 0 ? clamp_round(x[e] / step, -32, 31) : 0) + 32;
    const int half = e / 128, k = (e % 128) / 32, l = e % 32;
    out->ql[64 * half + (k & 1) * 32 + l] |= static_cast<uint8_t>((q & 0xF) << (4 * (k >> 1)));
    out->qh[32 * half + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
  }
}

void dequantize_q4_k(const BlockQ4_K* b, float* y) {
  const float d = f16_to_f32(b->d), dmin = f16_to_f32(b->dmin);
  for (int j = 0; j < 8; ++j) {
    int scale, min;
    q4_k_scale_min(b->scales, j, &scale, &min);
    for (int l = 0; l < 32; ++l) {
      const uint8_t byte = b->qs[32 * (j / 2) + l];
      y[32 * j + l] = d * scale * ((j % 2 ? byte >> 4 : byte) & 0xF) - dmin * min;
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* b, float* y) {
  const float d = f16_to_f32(b->d);
  for (int e = 0; e < 256; ++e) {
    const int half = e / 128, k = (e % 128) / 32, l = e % 32;
    const int lo = (b->ql[64 * half + (k & 1) * 32 + l] >> (4 * (k >> 1))) & 0xF;
    const int hi = (b->qh[32 * half + l] >> (2 * k)) & 3;
    y[e] = d * b->scales[e / 16] * ((lo | (hi << 4)) - 32);
  }
}

void check_multiple(WeightFormat format, int n) {
  if (!is_quantized(format)) throw std::invalid_argument(std::string(format_name(format)) + " is not a block format");
  if (n % format_block_values(format) != 0) {
    throw std::invalid_argument(std::string("a ") + format_name(format) + " row needs a multiple of " +
                                std::to_string(format_block_values(format)) + " values, got " + std::to_string(n));
  }
}

}  // namespace

void quantize_row(WeightFormat format, const float* x, void* out, int n) {
  check_multiple(format, n);
  const int blocks = n / format_block_values(format);
  for (int b = 0; b < blocks; ++b) {
    switch (format) {
      case WeightFormat::Q8_0: quantize_q8_0(x + 32 * b, static_cast<BlockQ8_0*>(out) + b); break;
      case WeightFormat::Q4_0: quantize_q4_0(x + 32 * b, static_cast<BlockQ4_0*>(out) + b); break;
      case WeightFormat::Q4_K: quantize_q4_k(x + 256 * b, static_cast<BlockQ4_K*>(out) + b); break;
      case WeightFormat::Q6_K: quantize_q6_k(x + 256 * b, static_cast<BlockQ6_K*>(out) + b); break;
      default: quantize_block_more(format, x + format_block_values(format) * b, static_cast<uint8_t*>(out) + format_block_bytes(format) * b);
    }
  }
}

void dequantize_row(WeightFormat format, const void* in, float* out, int n) {
  check_multiple(format, n);
  const int blocks = n / format_block_values(format);
  for (int b = 0; b < blocks; ++b) {
    switch (format) {
      case WeightFormat::Q8_0: {
        const BlockQ8_0& block = static_cast<const BlockQ8_0*>(in)[b];
        const float d = f16_to_f32(block.d);
        for (int i = 0; i < 32; ++i) out[32 * b + i] = d * block.qs[i];
        break;
      }
      case WeightFormat::Q4_0: {
        const BlockQ4_0& block = static_cast<const BlockQ4_0*>(in)[b];
        const float d = f16_to_f32(block.d);
        for (int i = 0; i < 16; ++i) {
          out[32 * b + i] = d * ((block.qs[i] & 0xF) - 8);
          out[32 * b + i + 16] = d * ((block.qs[i] >> 4) - 8);
        }
        break;
      }
      case WeightFormat::Q4_K: dequantize_q4_k(static_cast<const BlockQ4_K*>(in) + b, out + 256 * b); break;
      case WeightFormat::Q6_K: dequantize_q6_k(static_cast<const BlockQ6_K*>(in) + b, out + 256 * b); break;
      default: dequantize_block_more(format, static_cast<const uint8_t*>(in) + format_block_bytes(format) * b, out + format_block_values(format) * b);
    }
  }
}

namespace {
// n values to d = max|x| / 127 and q = round(x / d) in [-127, 127].
float round_to_int8(const float* x, int8_t* q, int n) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.f;
  const float id = d > 0 ? 1.f / d : 0.f;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(clamp_round(x[i] * id, -127, 127));
  return d;
}
}  // namespace

void quantize_activations(const float* x, ActivationBlock* out, int n) {
  for (int b = 0; b < n / kQuantBlock; ++b) {
    out[b].d = round_to_int8(x + kQuantBlock * b, out[b].q, kQuantBlock);
    out[b].sum = 0;
    for (int i = 0; i < kQuantBlock; ++i) out[b].sum += out[b].q[i];
  }
}

void quantize_activations(const float* x, ActivationSuperBlock* out, int n) {
  for (int b = 0; b < n / kSuperBlock; ++b) {
    out[b].d = round_to_int8(x + kSuperBlock * b, out[b].q, kSuperBlock);
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += out[b].q[16 * g + i];
      out[b].sums[g] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace cpu
}  // namespace pagedllm
