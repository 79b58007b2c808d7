// Scalar quantize / dequantize of one block of Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q5_K and IQ4_XS, and dequantize of
// TQ1_0 / TQ2_0 (layouts in quant_formats.h). The quantizers are simple round-to-nearest ones (tests, the writer of test
// GGUF files, and the IQ4_XS -> IQ4_NL conversion at load); the dequantizers follow the formats' own fp32 formulas.
#include <cstring>
#include <stdexcept>

#include "dtype_convert.h"
#include "quant_formats.h"

namespace pagedllm {
namespace cpu {

namespace {

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 32 codes of up to 5 bits into the Q4_0 nibble order (qs) and, for 5 bits, the fifth bits (qh, little-endian).
void pack_block32(const int* q, uint8_t* qs, uint8_t* qh) {
  uint32_t high = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    high |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
    high |= static_cast<uint32_t>((q[j + 16] >> 4) & 1) << (j + 16);
  }
  if (qh) std::memcpy(qh, &high, 4);
}

// Code j (0..31) of a 32-value block: low nibble from qs, fifth bit from qh when there is one.
int code32(const uint8_t* qs, uint32_t qh, int j) {
  const int low = j < 16 ? qs[j] & 0xF : qs[j - 16] >> 4;
  return low | static_cast<int>(((qh >> j) & 1) << 4);
}

// Q4_1 / Q5_1: x = d * q + m on levels + 1 codes between the block's min and max. Returns d and m as stored.
void quantize_affine32(const float* x, int levels, uint16_t* d_out, uint16_t* m_out, int* q) {
  float lo = x[0], hi = x[0];
  for (int i = 0; i < 32; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  *d_out = f32_to_f16((hi - lo) / levels);
  *m_out = f32_to_f16(lo);
  const float d = f16_to_f32(*d_out), m = f16_to_f32(*m_out);
  for (int i = 0; i < 32; ++i) q[i] = d > 0 ? clamp_round((x[i] - m) / d, 0, levels) : 0;
}

int nearest_iq4(float v) {
  int best = 0;
  for (int i = 1; i < 16; ++i)
    if (std::fabs(v - kIq4Values[i]) < std::fabs(v - kIq4Values[best])) best = i;
  return best;
}

// n values on the IQ4 grid: the scale that maps the largest magnitude to -127 or to 113, whichever fits better
// (either end of the grid; an IQ4_XS sub-block dequantized to floats finds its own scale again this way).
float iq4_scale(const float* x, int n) {
  const float extreme = signed_absmax(x, n);
  float best_scale = 0, best_error = INFINITY;
  for (const float level : {-127.f, 113.f}) {
    const float d = f16_to_f32(f32_to_f16(extreme / level));
    float error = 0;
    for (int i = 0; i < n && d != 0; ++i) {
      const float diff = x[i] - d * kIq4Values[nearest_iq4(x[i] / d)];
      error += diff * diff;
    }
    if (error < best_error) best_error = error, best_scale = extreme / level;
  }
  return best_scale;
}

void iq4_codes(const float* x, float d, uint8_t* qs) {
  int q[32];
  for (int i = 0; i < 32; ++i) q[i] = d != 0 ? nearest_iq4(x[i] / d) : 8;
  pack_block32(q, qs, nullptr);
}

// Q2_K / Q5_K: per sub-block an affine range [min, max] (min <= 0) on levels + 1 codes; scales and mins to
// scale_levels + 1 steps against the block's largest; codes against the rounded scales. Fills ls, lm and q.
void quantize_affine_k(const float* x, int sub, int levels, int scale_levels, uint16_t* d_out, uint16_t* dmin_out,
                       int* ls, int* lm, int* q) {
  const int subs = kSuperBlock / sub;
  float scale[16], min[16], max_scale = 0, max_min = 0;
  for (int j = 0; j < subs; ++j) {
    float lo = 0, hi = x[sub * j];
    for (int i = sub * j; i < sub * (j + 1); ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
    scale[j] = std::max(0.f, hi - lo) / levels;
    min[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_min = std::max(max_min, min[j]);
  }
  *d_out = f32_to_f16(max_scale / scale_levels);
  *dmin_out = f32_to_f16(max_min / scale_levels);
  const float d = f16_to_f32(*d_out), dmin = f16_to_f32(*dmin_out);
  for (int j = 0; j < subs; ++j) {
    ls[j] = d > 0 ? clamp_round(scale[j] / d, 0, scale_levels) : 0;
    lm[j] = dmin > 0 ? clamp_round(min[j] / dmin, 0, scale_levels) : 0;
    const float step = d * ls[j], offset = dmin * lm[j];
    for (int i = sub * j; i < sub * (j + 1); ++i) q[i] = step > 0 ? clamp_round((x[i] + offset) / step, 0, levels) : 0;
  }
}

void quantize_q3_k(const float* x, BlockQ3_K* out) {
  float scale[16], extreme = 0;
  for (int j = 0; j < 16; ++j) {
    scale[j] = signed_absmax(x + 16 * j, 16) / -4.f;
    if (std::fabs(scale[j]) > std::fabs(extreme)) extreme = scale[j];
  }
  std::memset(out, 0, sizeof(*out));
  out->d = f32_to_f16(extreme / -32.f);
  const float d = f16_to_f32(out->d);
  int ls[16];
  for (int j = 0; j < 16; ++j) {
    ls[j] = d != 0 ? clamp_round(scale[j] / d, -32, 31) : 0;
    const int s = ls[j] + 32;
    out->scales[j % 8] |= static_cast<uint8_t>((s & 0xF) << (4 * (j / 8)));
    out->scales[8 + j % 4] |= static_cast<uint8_t>((s >> 4) << (2 * (j / 4)));
  }
  for (int e = 0; e < 256; ++e) {
    const float step = d * ls[e / 16];
    const int q = (step != 0 ? clamp_round(x[e] / step, -4, 3) : 0) + 4;
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    out->qs[32 * h + l] |= static_cast<uint8_t>((q & 3) << (2 * k));
    out->hmask[l] |= static_cast<uint8_t>((q >> 2) << (4 * h + k));
  }
}

void quantize_iq4_xs(const float* x, BlockIQ4_XS* out) {
  float scale[8], extreme = 0;
  for (int j = 0; j < 8; ++j) {
    scale[j] = iq4_scale(x + 32 * j, 32);
    if (std::fabs(scale[j]) > std::fabs(extreme)) extreme = scale[j];
  }
  std::memset(out, 0, sizeof(*out));
  out->d = f32_to_f16(extreme / -32.f);
  const float d = f16_to_f32(out->d);
  for (int j = 0; j < 8; ++j) {
    const int ls = d != 0 ? clamp_round(scale[j] / d, -32, 31) : 0;
    out->scales_l[j / 2] |= static_cast<uint8_t>(((ls + 32) & 0xF) << (4 * (j % 2)));
    out->scales_h |= static_cast<uint16_t>(((ls + 32) >> 4) << (2 * j));
    iq4_codes(x + 32 * j, d * ls, out->qs + 16 * j);
  }
}

// Sub-block i's 6-bit scale of a Q3_K block, less 32.
int q3_k_scale(const uint8_t* scales, int i) {
  const int low = (scales[i % 8] >> (4 * (i / 8))) & 0xF, high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace

void quantize_block_more(WeightFormat format, const float* x, uint8_t* out) {
  int q[256], ls[16], lm[16];
  switch (format) {
    case WeightFormat::Q4_1:
    case WeightFormat::Q5_1: {
      const bool five = format == WeightFormat::Q5_1;
      auto* b = reinterpret_cast<BlockQ5_1*>(out);  // Q4_1 is the same but for qh
      quantize_affine32(x, five ? 31 : 15, &b->d, &b->m, q);
      pack_block32(q, five ? b->qs : out + 4, five ? b->qh : nullptr);
      return;
    }
    case WeightFormat::Q5_0: {
      auto* b = reinterpret_cast<BlockQ5_0*>(out);
      b->d = f32_to_f16(signed_absmax(x, 32) / -16.f);
      const float d = f16_to_f32(b->d);
      for (int i = 0; i < 32; ++i) q[i] = (d != 0 ? clamp_round(x[i] / d, -16, 15) : 0) + 16;
      pack_block32(q, b->qs, b->qh);
      return;
    }
    case WeightFormat::IQ4_NL: {
      auto* b = reinterpret_cast<BlockIQ4_NL*>(out);
      b->d = f32_to_f16(iq4_scale(x, 32));
      iq4_codes(x, f16_to_f32(b->d), b->qs);
      return;
    }
    case WeightFormat::Q2_K: {
      auto* b = reinterpret_cast<BlockQ2_K*>(out);
      std::memset(b, 0, sizeof(*b));
      quantize_affine_k(x, 16, 3, 15, &b->d, &b->dmin, ls, lm, q);
      for (int j = 0; j < 16; ++j) b->scales[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
      for (int e = 0; e < 256; ++e) b->qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(q[e] << (2 * ((e % 128) / 32)));
      return;
    }
    case WeightFormat::Q5_K: {
      auto* b = reinterpret_cast<BlockQ5_K*>(out);
      std::memset(b, 0, sizeof(*b));
      quantize_affine_k(x, 32, 31, 63, &b->d, &b->dmin, ls, lm, q);
      for (int j = 0; j < 8; ++j) q4_k_pack_scale_min(b->scales, j, ls[j], lm[j]);
      for (int e = 0; e < 256; ++e) {
        const int j = e / 32, l = e % 32;
        b->qs[32 * (j / 2) + l] |= static_cast<uint8_t>((q[e] & 0xF) << (4 * (j % 2)));
        b->qh[l] |= static_cast<uint8_t>((q[e] >> 4) << j);
      }
      return;
    }
    case WeightFormat::Q3_K: quantize_q3_k(x, reinterpret_cast<BlockQ3_K*>(out)); return;
    case WeightFormat::IQ4_XS: quantize_iq4_xs(x, reinterpret_cast<BlockIQ4_XS*>(out)); return;
    case WeightFormat::TQ1_0:
    case WeightFormat::TQ2_0:
      throw std::invalid_argument(std::string("quantize_row: ") + format_name(format) + " blocks are only read from GGUF files, never written");
    default: throw std::invalid_argument(std::string("quantize_row: ") + format_name(format) + " is not a block format");
  }
}

void dequantize_block_more(WeightFormat format, const uint8_t* in, float* y) {
  switch (format) {
    case WeightFormat::Q4_1: {
      const auto& b = *reinterpret_cast<const BlockQ4_1*>(in);
      const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
      for (int j = 0; j < 32; ++j) y[j] = d * code32(b.qs, 0, j) + m;
      return;
    }
    case WeightFormat::Q5_1: {
      const auto& b = *reinterpret_cast<const BlockQ5_1*>(in);
      const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
      for (int j = 0; j < 32; ++j) y[j] = d * code32(b.qs, load_u32(b.qh), j) + m;
      return;
    }
    case WeightFormat::Q5_0: {
      const auto& b = *reinterpret_cast<const BlockQ5_0*>(in);
      const float d = f16_to_f32(b.d);
      for (int j = 0; j < 32; ++j) y[j] = d * (code32(b.qs, load_u32(b.qh), j) - 16);
      return;
    }
    case WeightFormat::IQ4_NL: {
      const auto& b = *reinterpret_cast<const BlockIQ4_NL*>(in);
      const float d = f16_to_f32(b.d);
      for (int j = 0; j < 32; ++j) y[j] = d * kIq4Values[code32(b.qs, 0, j)];
      return;
    }
    case WeightFormat::Q2_K: {
      const auto& b = *reinterpret_cast<const BlockQ2_K*>(in);
      const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
      for (int e = 0; e < 256; ++e) {
        const int q = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3, sc = b.scales[e / 16];
        y[e] = d * (sc & 0xF) * q - dmin * (sc >> 4);
      }
      return;
    }
    case WeightFormat::Q3_K: {
      const auto& b = *reinterpret_cast<const BlockQ3_K*>(in);
      const float d = f16_to_f32(b.d);
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, k = (e % 128) / 32, l = e % 32;
        const int q = ((b.qs[32 * h + l] >> (2 * k)) & 3) | (((b.hmask[l] >> (4 * h + k)) & 1) << 2);
        y[e] = d * q3_k_scale(b.scales, e / 16) * (q - 4);
      }
      return;
    }
    case WeightFormat::Q5_K: {
      const auto& b = *reinterpret_cast<const BlockQ5_K*>(in);
      const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
      for (int j = 0; j < 8; ++j) {
        int scale, min;
        q4_k_scale_min(b.scales, j, &scale, &min);
        for (int l = 0; l < 32; ++l) {
          const int q = ((b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xF) | (((b.qh[l] >> j) & 1) << 4);
          y[32 * j + l] = d * scale * q - dmin * min;
        }
      }
      return;
    }
    case WeightFormat::IQ4_XS: {
      const auto& b = *reinterpret_cast<const BlockIQ4_XS*>(in);
      const float d = f16_to_f32(b.d);
      for (int j = 0; j < 8; ++j) {
        const int s = (((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4)) - 32;
        for (int i = 0; i < 32; ++i) y[32 * j + i] = d * s * kIq4Values[code32(b.qs + 16 * j, 0, i)];
      }
      return;
    }
    case WeightFormat::TQ1_0:
    case WeightFormat::TQ2_0: {
      // ggml's formula: the code (as a float) times d, which as Q8_0 is the same product.
      int8_t codes[256];
      const float d = f16_to_f32(ternary_codes(format, in, codes));
      for (int e = 0; e < 256; ++e) y[e] = d * codes[e];
      return;
    }
    default: throw std::invalid_argument(std::string("dequantize_row: ") + format_name(format) + " is not a block format");
  }
}

bool convert_iq4_xs_to_iq4_nl(const uint8_t* in, uint8_t* out, size_t blocks) {
  for (size_t i = 0; i < blocks; ++i) {
    const auto& b = reinterpret_cast<const BlockIQ4_XS*>(in)[i];
    const float d = f16_to_f32(b.d);
    for (int j = 0; j < 8; ++j) {
      auto& nl = reinterpret_cast<BlockIQ4_NL*>(out)[8 * i + j];
      const int s = (((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4)) - 32;
      nl.d = f32_to_f16(d * s);
      if (!std::isfinite(f16_to_f32(nl.d))) return false;
      std::memcpy(nl.qs, b.qs + 16 * j, 16);
    }
  }
  return true;
}

}  // namespace cpu
}  // namespace pagedllm
