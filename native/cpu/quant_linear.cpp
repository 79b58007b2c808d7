// Linear layers over quantized weights: activations to 8-bit blocks once per call, then (row block, column
// chunk) tasks over the pool, each running the AVX2 kernel or the portable scalar one below (per part of a stacked
// matrix, each in its own format).
#include "quant_linear.h"

#include <algorithm>
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

// One weight row against one activation row, block by block in fp32 (the portable path).
float scalar_dot(const WeightMatrix& w, int n, const ActivationBlock* acts) {
  const int num_blocks = w.cols / kQuantBlock;
  const uint8_t* row = static_cast<const uint8_t*>(w.row_ptr(n));
  float total = 0;
  int8_t codes[kQuantBlock];
  for (int b = 0; b < num_blocks; ++b) {
    const ActivationBlock& a = acts[b];
    switch (w.format) {
      case WeightFormat::Q8_0: {
        const auto& block = reinterpret_cast<const BlockQ8_0*>(row)[b];
        total += f16_to_f32(block.d) * a.d * static_cast<float>(dot_codes(block.qs, a.q));
        break;
      }
      case WeightFormat::Q4_0: {
        const auto& block = reinterpret_cast<const BlockQ4_0*>(row)[b];
        for (int i = 0; i < 16; ++i) codes[i] = (block.qs[i] & 0xF) - 8, codes[i + 16] = (block.qs[i] >> 4) - 8;
        total += f16_to_f32(block.d) * a.d * static_cast<float>(dot_codes(codes, a.q));
        break;
      }
      case WeightFormat::Q4_K: {
        const auto& block = reinterpret_cast<const BlockQ4_K*>(row)[b / 8];
        const int j = b % 8;
        int scale, min;
        q4_k_scale_min(block.scales, j, &scale, &min);
        for (int l = 0; l < 32; ++l) {
          const uint8_t byte = block.qs[32 * (j / 2) + l];
          codes[l] = static_cast<int8_t>((j % 2 ? byte >> 4 : byte) & 0xF);
        }
        total += f16_to_f32(block.d) * scale * a.d * static_cast<float>(dot_codes(codes, a.q)) -
                 f16_to_f32(block.dmin) * min * a.d_sum;
        break;
      }
      case WeightFormat::Q6_K: {
        const auto& block = reinterpret_cast<const BlockQ6_K*>(row)[b / 8];
        const int half = (b % 8) / 4, k = b % 4;
        for (int l = 0; l < 32; ++l) {
          const int lo = (block.ql[64 * half + (k & 1) * 32 + l] >> (4 * (k >> 1))) & 0xF;
          const int hi = (block.qh[32 * half + l] >> (2 * k)) & 3;
          codes[l] = static_cast<int8_t>((lo | (hi << 4)) - 32);
        }
        const int8_t* scales = block.scales + 8 * half + 2 * k;
        const int sum = scales[0] * dot_codes(codes, a.q, 16) + scales[1] * dot_codes(codes + 16, a.q + 16, 16);
        total += f16_to_f32(block.d) * a.d * static_cast<float>(sum);
        break;
      }
      default: throw std::invalid_argument("scalar_dot: not a quantized format");
    }
  }
  return total;
}

void scalar_block(const ActivationBlock* acts, int row_begin, int row_end, const WeightMatrix& w, int col_begin,
                  int col_end, const float* bias, float* y, int y_stride) {
  const int num_blocks = w.cols / kQuantBlock;
  for (int m = row_begin; m < row_end; ++m) {
    for (int n = col_begin; n < col_end; ++n) {
      y[static_cast<size_t>(m) * y_stride + n] = scalar_dot(w, n, acts + static_cast<size_t>(m) * num_blocks) + (bias ? bias[n] : 0.f);
    }
  }
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
  const int num_blocks = w.cols / kQuantBlock;
  // The calling thread's buffer, reused across layers and steps (linear() is never re-entered).
  // (Workers see their own thread_local, so the lambdas below use this pointer, never the vector.)
  thread_local std::vector<ActivationBlock> act_buffer;
  act_buffer.resize(static_cast<size_t>(num_rows) * num_blocks);
  ActivationBlock* acts = act_buffer.data();
  for_row_ranges(pool, num_rows, static_cast<size_t>(w.cols) * 4, [&](int begin, int end) {
    for (int m = begin; m < end; ++m) {
      quantize_activations(x + static_cast<size_t>(m) * w.cols, acts + static_cast<size_t>(m) * num_blocks, w.cols);
    }
  });
  const bool vector = avx2_enabled();
  if (vector && num_rows >= avx2::kQuantPackedMinRows) {
    // Many rows: each task unpacks its column chunk once and runs every row of its row block over it.
    // A chunk that straddles two parts of a stacked matrix runs as two smaller chunks; each output's sum is the same.
    for_weight_tiles(pool, w.rows, num_rows, 128, 12, avx2::kQuantPackedChunk, [&](int col_begin, int col_end, int row_begin, int row_end) {
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
