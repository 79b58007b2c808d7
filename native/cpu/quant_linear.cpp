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

// Integer dot of n weight codes (already offset to signed) with activation codes.
int dot_codes(const int8_t* w, const int8_t* a, int n = kQuantBlock) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += w[i] * a[i];
  return sum;
}

// One weight row against one activation row in fp32, per 32-value block (Q8_0, Q4_0; the portable path).
float scalar_dot(const WeightMatrix& w, int n, const ActivationBlock* acts) {
  const int num_blocks = w.cols / kQuantBlock;
  const uint8_t* row = static_cast<const uint8_t*>(w.row_ptr(n));
  float total = 0;
  int8_t codes[kQuantBlock];
  for (int b = 0; b < num_blocks; ++b) {
    const ActivationBlock& a = acts[b];
    if (w.format == WeightFormat::Q8_0) {
      const auto& block = reinterpret_cast<const BlockQ8_0*>(row)[b];
      total = std::fma(static_cast<float>(dot_codes(block.qs, a.q)), f16_to_f32(block.d) * a.d, total);
    } else {
      const auto& block = reinterpret_cast<const BlockQ4_0*>(row)[b];
      for (int i = 0; i < 16; ++i) codes[i] = (block.qs[i] & 0xF) - 8, codes[i + 16] = (block.qs[i] >> 4) - 8;
      total = std::fma(static_cast<float>(dot_codes(codes, a.q)), f16_to_f32(block.d) * a.d, total);
    }
  }
  return total;
}

// The same per 256-value super-block (Q4_K, Q6_K): integer sums over the sub-block scales, one fp32 step per super-block.
float scalar_dot(const WeightMatrix& w, int n, const ActivationSuperBlock* acts) {
  const int num_supers = w.cols / kSuperBlock;
  const uint8_t* row = static_cast<const uint8_t*>(w.row_ptr(n));
  float total = 0;
  int8_t codes[kSuperBlock];
  for (int s = 0; s < num_supers; ++s) {
    const ActivationSuperBlock& a = acts[s];
    int products = 0;
    if (w.format == WeightFormat::Q4_K) {
      const auto& block = reinterpret_cast<const BlockQ4_K*>(row)[s];
      int mins = 0;
      for (int j = 0; j < 8; ++j) {
        int scale, min;
        q4_k_scale_min(block.scales, j, &scale, &min);
        for (int l = 0; l < 32; ++l) codes[l] = static_cast<int8_t>((j % 2 ? block.qs[32 * (j / 2) + l] >> 4 : block.qs[32 * (j / 2) + l]) & 0xF);
        products += scale * dot_codes(codes, a.q + 32 * j);
        mins += min * (a.sums[2 * j] + a.sums[2 * j + 1]);
      }
      total = std::fma(static_cast<float>(products), f16_to_f32(block.d) * a.d, total);
      total = std::fma(-static_cast<float>(mins), f16_to_f32(block.dmin) * a.d, total);
    } else {
      const auto& block = reinterpret_cast<const BlockQ6_K*>(row)[s];
      for (int e = 0; e < kSuperBlock; ++e) {
        const int half = e / 128, k = (e % 128) / 32, l = e % 32;
        const int lo = (block.ql[64 * half + (k & 1) * 32 + l] >> (4 * (k >> 1))) & 0xF;
        const int hi = (block.qh[32 * half + l] >> (2 * k)) & 3;
        codes[e] = static_cast<int8_t>((lo | (hi << 4)) - 32);
      }
      for (int g = 0; g < 16; ++g) products += block.scales[g] * dot_codes(codes + 16 * g, a.q + 16 * g, 16);
      total = std::fma(static_cast<float>(products), f16_to_f32(block.d) * a.d, total);
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

}  // namespace

WeightMatrix stack_quantized(std::vector<WeightMatrix> parts) {
  if (parts.empty()) throw std::invalid_argument("stack_quantized: no parts");
  if (parts.size() == 1) return std::move(parts[0]);
  WeightMatrix stacked;
  stacked.format = parts[0].format;
  stacked.cols = parts[0].cols;
  for (const WeightMatrix& part : parts) {
    if (!is_quantized(part.format) || !part.segments.empty() || part.cols != stacked.cols) {
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
    // Many rows: each task unpacks its column chunk once and runs every row of its row block over it.
    // A chunk that straddles two parts of a stacked matrix runs as two smaller chunks; each output's sum is the same.
    for_weight_tiles(pool, w.rows, num_rows, 128, 8, avx2::kQuantPackedChunk, [&](int col_begin, int col_end, int row_begin, int row_end) {
      for_each_part(w, col_begin, col_end, [&](const WeightMatrix& part, int first, int begin, int end) {
        avx2::quant_packed_block(acts, row_begin, row_end, part, begin, end, bias ? bias + first : nullptr, y + first, w.rows);
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
