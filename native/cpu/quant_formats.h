// ggml's block-quantized weight formats (Q8_0, Q4_0, Q4_K, Q6_K, byte for byte as in GGUF files) and the 8-bit
// activation blocks the integer dot products multiply them with.
#pragma once
#include <cstddef>
#include <cstdint>

#include "pagedllm/backend.h"

namespace pagedllm {
namespace cpu {

constexpr int kQuantBlock = 32;   // Q8_0, Q4_0 and the activation blocks
constexpr int kSuperBlock = 256;  // Q4_K, Q6_K

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
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18, "ggml block sizes");
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ6_K) == 210, "ggml block sizes");

// One activation block: x ~= d * q, with sum(q) (for Q4_0's offset of 8).
struct ActivationBlock {
  float d;
  int32_t sum;
  int8_t q[32];
};

// One 256-value activation block for the K-quant kernels (Q4_K, Q6_K): x ~= d * q, with the integer sum of each 16
// codes, so that Q4_K's mins and Q6_K's offset of 32 are integer terms and a whole super-block sums in int32.
struct ActivationSuperBlock {
  float d;
  int16_t sums[16];
  int8_t q[256];
};

// A matrix's input rows rounded to 8 bits: per 32 values for Q8_0 / Q4_0, per 256 for Q4_K / Q6_K (null where no
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

bool is_quantized(WeightFormat format);
// Q4_K and Q6_K: 256-value super-blocks, multiplied with ActivationSuperBlocks.
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
}  // namespace

// One row of n values (a multiple of the block size) to and from a quantized format.
void quantize_row(WeightFormat format, const float* x, void* out, int n);
void dequantize_row(WeightFormat format, const void* in, float* out, int n);

// One row of n activations (a multiple of 32, resp. 256) to 8-bit blocks: d = max|x| / 127, q = round(x / d).
void quantize_activations(const float* x, ActivationBlock* out, int n);
void quantize_activations(const float* x, ActivationSuperBlock* out, int n);

}  // namespace cpu
}  // namespace pagedllm
