// Linear layers over quantized weights: activations to 8-bit blocks once per call (per 32 values, per 256 for
// K-quants), then (row block, column chunk) tasks over the pool, each running the AVX2 kernel or the portable scalar
// one below (per part of a stacked matrix, each in its own format).
#include "quant_linear.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "dtype_convert.h"
#include "quant_packed.h"
#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

namespace {

// Integer dot of n weight codes with activation codes.
template <typename Code>
int dot_codes(const Code* w, const int8_t* a, int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += w[i] * a[i];
  return sum;
}

// One weight row against one activation row in fp32, per 32-value block (the portable path): d * a.d * the block's
// integer dot, plus m * a.d * the activation sum for Q4_1 / Q5_1.
float scalar_dot(const WeightMatrix& w, int n, const ActivationBlock* acts) {
  const int num_blocks = w.cols / kQuantBlock;
  const size_t block_bytes = format_block_bytes(w.format);
  const uint8_t* row = static_cast<const uint8_t*>(w.row_ptr(n));
  float total = 0;
  int8_t codes[kQuantBlock];
  for (int b = 0; b < num_blocks; ++b) {
    const ActivationBlock& a = acts[b];
    float d, m;
    block32_codes(w.format, row + b * block_bytes, codes, &d, &m);
    total = std::fma(static_cast<float>(dot_codes(codes, a.q, kQuantBlock)), d * a.d, total);
    if (m != 0) total = std::fma(static_cast<float>(a.sum), m * a.d, total);
  }
  return total;
}

// The same per 256-value super-block (K-quants): integer sums over the sub-block scales and offsets, one fp32 step
// per super-block (two with mins).
float scalar_dot(const WeightMatrix& w, int n, const ActivationSuperBlock* acts) {
  const int num_supers = w.cols / kSuperBlock;
  const size_t block_bytes = format_block_bytes(w.format);
  const uint8_t* row = static_cast<const uint8_t*>(w.row_ptr(n));
  float total = 0;
  uint8_t codes[kSuperBlock];
  int scales[16], offsets[16];
  for (int s = 0; s < num_supers; ++s) {
    const ActivationSuperBlock& a = acts[s];
    float d, dmin;
    const bool has_min = super_codes(w.format, row + s * block_bytes, codes, scales, offsets, &d, &dmin);
    int products = 0, offset_terms = 0;
    for (int g = 0; g < 16; ++g) {
      products += scales[g] * dot_codes(codes + 16 * g, a.q + 16 * g, 16);
      offset_terms += offsets[g] * a.sums[g];
    }
    if (has_min) {
      total = std::fma(static_cast<float>(products), d * a.d, total);
      total = std::fma(-static_cast<float>(offset_terms), dmin * a.d, total);
    } else {
      total = std::fma(static_cast<float>(products - offset_terms), d * a.d, total);
    }
  }
  return total;
}

void scalar_block(const QuantizedActivations& acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                  int col_end, const float* bias, float* y, int y_stride) {
  for (int m = row_begin; m < row_end; ++m) {
    for (int n = col_begin; n < col_end; ++n) {
      const float dot = is_k_quant(w.format) ? scalar_dot(w, n, acts.supers + static_cast<size_t>(m) * (w.cols / kSuperBlock))
                                             : scalar_dot(w, n, acts.blocks + static_cast<size_t>(m) * (w.cols / kQuantBlock));
      y[static_cast<size_t>(m) * y_stride + n] = dot + (bias ? bias[n] : 0.f);
    }
  }
}

// quantize_activations, with AVX2 when enabled (the same values either way).
template <typename Block>
void round_row(bool vector, const float* x, Block* out, int n) {
  if (vector) avx2::quantize_activations(x, out, n);
  else quantize_activations(x, out, n);
}

// Calls fn(part, first, begin, end) for each part of w (w itself unless stacked) that holds some of the output
// columns [col_begin, col_end): part's columns [begin, end) are w's columns first + [begin, end).
template <typename Fn>
void for_each_part(const WeightMatrix& w, int col_begin, int col_end, Fn fn) {
  if (w.segments.empty()) {
    fn(w, 0, col_begin, col_end);
    return;
  }
  int first = 0;
  for (const WeightMatrix& part : w.segments) {
    const int begin = std::max(col_begin, first), end = std::min(col_end, first + part.rows);
    if (begin < end) fn(part, first, begin - first, end - first);
    first += part.rows;
  }
}

// The packed prefill kernel's build for this CPU (vnni_in_use): the same outputs, bit for bit, from each.
using PackedKernel = void (*)(const QuantizedActivations&, int, int, const WeightMatrix&, int, int, const float*, float*, int);
PackedKernel packed_kernel() {
  switch (vnni_in_use()) {
    case VnniKind::kAvxVnni: return avx2::quant_packed_block_avx_vnni;
    case VnniKind::kAvx512Vnni: return avx2::quant_packed_block_avx512_vnni;
    default: return avx2::quant_packed_block;
  }
}

}  // namespace

WeightMatrix stack_quantized(std::vector<WeightMatrix> parts) {
  if (parts.empty()) throw std::invalid_argument("stack_quantized: no parts");
  if (parts.size() == 1) return std::move(parts[0]);
  WeightMatrix stacked;
  stacked.format = parts[0].format;
  stacked.cols = parts[0].cols;
  for (const WeightMatrix& part : parts) {
    if (!has_kernel(part.format) || !part.segments.empty() || part.cols != stacked.cols) {
      throw std::invalid_argument("stack_quantized: parts must be unstacked block-quantized matrices of the same width");
    }
    stacked.rows += part.rows;
  }
  stacked.segments = std::move(parts);
  return stacked;
}

void linear_quantized(ThreadPool& pool, const float* x, int num_rows, const WeightMatrix& w, const float* bias, float* y) {
  // The input rounded once per call, per 32 and / or per 256 values as the matrix's parts need.
  bool need_blocks = false, need_supers = false;
  for_each_part(w, 0, w.rows, [&](const WeightMatrix& part, int, int, int) {
    (is_k_quant(part.format) ? need_supers : need_blocks) = true;
  });
  const size_t num_blocks = need_blocks ? w.cols / kQuantBlock : 0, num_supers = need_supers ? w.cols / kSuperBlock : 0;
  // The calling thread's buffers, reused across layers and steps (linear() is never re-entered).
  // (Workers see their own thread_local, so the lambdas below use these pointers, never the vectors.)
  const size_t padded_blocks = (num_blocks + 7) / 8 * 8;
  thread_local std::vector<ActivationBlock> block_buffer;
  thread_local std::vector<ActivationSuperBlock> super_buffer;
  thread_local std::vector<float> scale_buffer;
  thread_local std::vector<int32_t> sum_buffer;
  block_buffer.resize(num_rows * num_blocks + 8);
  super_buffer.resize(num_rows * num_supers);
  scale_buffer.assign(num_rows * padded_blocks, 0.f);
  sum_buffer.assign(num_rows * padded_blocks, 0);
  ActivationBlock* blocks = block_buffer.data();
  ActivationSuperBlock* supers = super_buffer.data();
  float* block_scales = scale_buffer.data();
  int32_t* block_sums = sum_buffer.data();
  const bool vector = avx2_enabled();
  for_row_ranges(pool, num_rows, static_cast<size_t>(w.cols) * 4, [&](int begin, int end) {
    for (int m = begin; m < end; ++m) {
      const float* row = x + static_cast<size_t>(m) * w.cols;
      if (need_blocks) {
        ActivationBlock* row_blocks = blocks + m * num_blocks;
        round_row(vector, row, row_blocks, w.cols);
        for (size_t b = 0; b < num_blocks; ++b) {
          block_scales[m * padded_blocks + b] = row_blocks[b].d;
          block_sums[m * padded_blocks + b] = row_blocks[b].sum;
        }
      }
      if (need_supers) round_row(vector, row, supers + m * num_supers, w.cols);
    }
  });
  const QuantizedActivations acts{blocks, supers, block_scales, block_sums, static_cast<int>(padded_blocks)};
  if (vector && num_rows >= avx2::kQuantPackedMinRows) {
    const auto packed_block = packed_kernel();
    // Many rows: each task unpacks its column chunk once and runs every row of its row block over it.
    // A chunk that straddles two parts of a stacked matrix runs as two smaller chunks; each output's sum is the same.
    for_weight_tiles(pool, w.rows, num_rows, 128, 8, avx2::kQuantPackedChunk, [&](int col_begin, int col_end, int row_begin, int row_end) {
      for_each_part(w, col_begin, col_end, [&](const WeightMatrix& part, int first, int begin, int end) {
        packed_block(acts, row_begin, row_end, part, begin, end, bias ? bias + first : nullptr, y + first, w.rows);
      });
    });
    return;
  }
  // The float decode path's partition (for_weight_tiles), with blocks of 32 activations: chunks of 8 columns, rows by 64.
  for_weight_tiles(pool, w.rows, num_rows, 64, 8, 64, [&](int col_begin, int col_end, int row_begin, int row_end) {
    for_each_part(w, col_begin, col_end, [&](const WeightMatrix& part, int first, int begin, int end) {
      const float* part_bias = bias ? bias + first : nullptr;
      if (vector) {
        avx2::quant_linear_block(acts, row_begin, row_end, part, begin, end, part_bias, y + first, w.rows);
      } else {
        scalar_block(acts, row_begin, row_end, part, begin, end, part_bias, y + first, w.rows);
      }
    });
  });
}

}  // namespace cpu
}  // namespace pagedllm
