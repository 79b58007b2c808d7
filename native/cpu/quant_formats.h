// ggml's block-quantized weight formats (byte for byte as in GGUF files: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL per 32
// values; Q2_K..Q6_K, IQ4_XS, TQ1_0, TQ2_0 per 256) and the 8-bit activation blocks the integer dot products multiply them with.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "pagedllm/backend.h"

namespace pagedllm {
namespace cpu {

constexpr int kQuantBlock = 32;   // Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and the activation blocks
constexpr int kSuperBlock = 256;  // Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, TQ1_0, TQ2_0

// x = d * q, q in [-127, 127].
struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[32];
};
// x = d * (q - 8); qs[j] holds element j in its low nibble and element j + 16 in its high nibble.
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[16];
};
// 8 sub-blocks of 32: x = d * scale_j * q - dmin * min_j, 6-bit scale_j/min_j packed in `scales` (see
// q4_k_scale_min). qs[32 c + l]: low nibble = element 64 c + l, high nibble = element 64 c + 32 + l.
struct BlockQ4_K {
  uint16_t d;     // f16
  uint16_t dmin;  // f16
  uint8_t scales[12];
  uint8_t qs[128];
};
// 16 sub-blocks of 16: x = d * scales_j * (q - 32), q 6 bits: low 4 in ql, high 2 in qh. In each half of 128
// elements (ql += 64, qh += 32, scales += 8), element 32 k + l (k < 4, l < 32) has its low bits in
// ql[(k & 1) * 32 + l] (nibble k >> 1), its high bits at qh[l] >> 2k, and its scale at scales[2 k + l / 16].
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;  // f16
};
// x = d * q + m, q 4 bits laid out as Q4_0's.
struct BlockQ4_1 {
  uint16_t d;  // f16
  uint16_t m;  // f16
  uint8_t qs[16];
};
// x = d * (q - 16): low 4 bits laid out as Q4_0's, the fifth bit of element j at bit j of qh (little-endian u32).
struct BlockQ5_0 {
  uint16_t d;  // f16
  uint8_t qh[4];
  uint8_t qs[16];
};
// x = d * q + m, q 5 bits laid out as Q5_0's.
struct BlockQ5_1 {
  uint16_t d;  // f16
  uint16_t m;  // f16
  uint8_t qh[4];
  uint8_t qs[16];
};
// x = d * kIq4Values[q], q 4 bits laid out as Q4_0's (a non-linear grid of 16 levels).
struct BlockIQ4_NL {
  uint16_t d;  // f16
  uint8_t qs[16];
};
// 16 sub-blocks of 16: x = d * (scales & 15) * q - dmin * (scales >> 4), q 2 bits. Element 128 h + 32 k + l
// (h < 2, k < 4, l < 32) at qs[32 h + l] >> 2k (the Q6_K order), sub-block e / 16.
struct BlockQ2_K {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d;     // f16
  uint16_t dmin;  // f16
};
// 16 sub-blocks of 16: x = d * (s - 32) * (q - 4), q = 2 low bits (Q2_K's order) | bit 4 h + k of hmask[l] << 2;
// the 6-bit s of sub-block i: low 4 bits in scales[i % 8] (nibble i / 8), high 2 at scales[8 + i % 4] >> 2 (i / 4).
struct BlockQ3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;  // f16
};
// Q4_K with a fifth bit: element 32 j + l's at bit j of qh[l].
struct BlockQ5_K {
  uint16_t d;     // f16
  uint16_t dmin;  // f16
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
};
// 8 sub-blocks of 32 as IQ4_NL's (qs + 16 j), x = d * (s - 32) * kIq4Values[q]; the 6-bit s of sub-block j: low 4
// bits in scales_l[j / 2] (nibble j % 2), high 2 at scales_h >> 2j.
struct BlockIQ4_XS {
  uint16_t d;  // f16
  uint16_t scales_h;
  uint8_t scales_l[4];
  uint8_t qs[128];
};
// Ternary (BitNet b1.58), x = d * c per 256 values, c = code - 1 in {-1, 0, 1}. TQ1_0 packs five base-3 codes a byte,
// the first of them the most significant, each byte the 5-code number v stored as ceil(v * 256 / 243): code n of a byte
// b is ((uint8_t)(b * 3^n) * 3) >> 8. Element 32 n + m (n < 5) is code n of qs[m], element 160 + 16 n + m (n < 5) code n
// of qs[32 + m], element 240 + 4 n + m (n < 4) code n of qh[m] (four codes, packed as five with a zero last).
struct BlockTQ1_0 {
  uint8_t qs[48];
  uint8_t qh[4];
  uint16_t d;  // f16
};
// Two bits a code: element 128 h + 32 l + m (h < 2, l < 4, m < 32) at qs[32 h + m] >> 2l; code 3 (which ggml's
// quantizer never writes) decodes as c = 2.
struct BlockTQ2_0 {
  uint8_t qs[64];
  uint16_t d;  // f16
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "ggml block sizes");
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ6_K) == 210, "ggml block sizes");
static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24, "ggml block sizes");
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136, "ggml block sizes");
static_assert(sizeof(BlockTQ1_0) == 54 && sizeof(BlockTQ2_0) == 66, "ggml block sizes");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ5_K) == 176, "ggml block sizes");

// The 16 levels of IQ4_NL and IQ4_XS codes.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// One activation block: x ~= d * q, with sum(q) (for Q4_0's / Q5_0's offsets and Q4_1's / Q5_1's mins).
struct ActivationBlock {
  float d;
  int32_t sum;
  int8_t q[32];
};

// One 256-value activation block for the K-quant kernels: x ~= d * q, with the integer sum of each 16 codes, so that
// the mins (Q2_K, Q4_K, Q5_K) and offsets (Q3_K, Q6_K) are integer terms and a whole super-block sums in int32.
struct ActivationSuperBlock {
  float d;
  int16_t sums[16];
  int8_t q[256];
};

// A matrix's input rows rounded to 8 bits: per 32 values for the 32-value formats, per 256 for K-quants (null where no
// part of the matrix is in such a format). Row m starts at blocks + m * cols / 32 and supers + m * cols / 256; the
// blocks are followed by 8 more (any codes) so that a kernel may read a whole last group of 8. The blocks' scales and
// sums also lie in order at block_scales / block_sums + m * padded_blocks (cols / 32 rounded up to 8, zeros after).
struct QuantizedActivations {
  const ActivationBlock* blocks;
  const ActivationSuperBlock* supers;
  const float* block_scales;
  const int32_t* block_sums;
  int padded_blocks;
};

// Every block format, including those that are only stored (see has_kernel).
bool is_quantized(WeightFormat format);
// The block formats a linear layer runs on (all but IQ4_XS, TQ1_0 and TQ2_0, which are converted at load: load_format).
bool has_kernel(WeightFormat format);
// The format a stored block format is kept in: itself when it has a kernel, else the one it is converted to.
WeightFormat load_format(WeightFormat stored);
// Q2_K..Q6_K: 256-value super-blocks, multiplied with ActivationSuperBlocks.
bool is_k_quant(WeightFormat format);
// Values per block (1 for the float formats) and bytes per block.
int format_block_values(WeightFormat format);
size_t format_block_bytes(WeightFormat format);
// Bytes of one stored row of `cols` values; cols must be a multiple of format_block_values.
size_t weight_row_bytes(WeightFormat format, int cols);
const char* format_name(WeightFormat format);

namespace {
// 6-bit scale and min of sub-block j (0..7) of a Q4_K block. Internal linkage: the AVX2 kernels inline their own
// copy, and the linker can never hand theirs to the portable files.
inline void q4_k_scale_min(const uint8_t* scales, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = scales[j] & 63;
    *min = scales[j + 4] & 63;
  } else {
    *scale = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
    *min = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
  }
}
// Quantizer helpers (quant_formats*.cpp): v rounded half to even and clamped; the value with the largest magnitude,
// sign kept (the symmetric formats map it to their most negative code).
inline int clamp_round(float v, int lo, int hi) { return std::min(hi, std::max(lo, static_cast<int>(std::nearbyint(v)))); }
inline float signed_absmax(const float* x, int n) {
  float best = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  return best;
}
// The inverse of q4_k_scale_min: packs sub-block j's 6-bit scale and min into `scales` (zeroed before the first call).
inline void q4_k_pack_scale_min(uint8_t* scales, int j, int scale, int min) {
  if (j < 4) {
    scales[j] |= static_cast<uint8_t>(scale);
    scales[j + 4] |= static_cast<uint8_t>(min);
  } else {
    scales[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    scales[j - 4] |= static_cast<uint8_t>((scale >> 4) << 6);
    scales[j] |= static_cast<uint8_t>((min >> 4) << 6);
  }
}
}  // namespace

// One row of n values (a multiple of the block size) to and from a quantized format.
void quantize_row(WeightFormat format, const float* x, void* out, int n);
void dequantize_row(WeightFormat format, const void* in, float* out, int n);
// One block of the formats added after the first four (quant_formats_more.cpp): Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K,
// Q3_K, Q5_K, IQ4_XS (and TQ1_0 / TQ2_0, decoded only); quantize_row / dequantize_row call these.
void quantize_block_more(WeightFormat format, const float* x, uint8_t* out);
void dequantize_block_more(WeightFormat format, const uint8_t* in, float* out);
// IQ4_XS blocks as IQ4_NL blocks (8 per IQ4_XS block), codes as they are, each sub-block's scale d * (s - 32) rounded
// to f16 (load_format). False if a scale overflows f16 (only a hostile file's would).
bool convert_iq4_xs_to_iq4_nl(const uint8_t* in, uint8_t* out, size_t blocks);
// TQ1_0 / TQ2_0 (quant_ternary.cpp): one block's 256 codes c (x = d * c), returning its f16 d; and blocks as Q8_0 blocks
// (8 per block), each with the block's f16 d as it is and the codes as int8: the same floats bit for bit (load_format).
uint16_t ternary_codes(WeightFormat format, const uint8_t* block, int8_t* codes);
void convert_ternary_to_q8_0(WeightFormat format, const uint8_t* in, uint8_t* out, size_t blocks);

// The integer view of one block that the portable kernel multiplies (quant_codes.cpp). 32-value formats: signed codes
// with x = d * code (+ m for Q4_1 / Q5_1, else m = 0). K-quants: unsigned codes, and per 16 values an integer scale
// and offset with x = d * scale * code - dmin * offset (has_min: Q2_K, Q4_K, Q5_K) or d * (scale * code - offset)
// (Q3_K, Q6_K, dmin = 0).
void block32_codes(WeightFormat format, const uint8_t* block, int8_t* codes, float* d, float* m);
bool super_codes(WeightFormat format, const uint8_t* block, uint8_t* codes, int* scales, int* offsets, float* d, float* dmin);

// One row of n activations (a multiple of 32, resp. 256) to 8-bit blocks: d = max|x| / 127, q = round(x / d).
void quantize_activations(const float* x, ActivationBlock* out, int n);
void quantize_activations(const float* x, ActivationSuperBlock* out, int n);

}  // namespace cpu
}  // namespace pagedllm
