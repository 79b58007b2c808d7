// Linear layers (GEMM against a stored weight matrix): work partitioning over the pool, the weight
// storage formats, and the portable scalar block used when AVX2 is absent.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "dtype_convert.h"
#include "kernels_avx2.h"
#include "linear_packed.h"
#include "quant_linear.h"
#include "row_parallel.h"

namespace pagedllm {
namespace cpu {

void WeightMatrix::resize(WeightFormat fmt, int num_rows, int num_cols) {
  format = fmt;
  rows = num_rows;
  cols = num_cols;
  if (is_quantized(fmt) && !has_kernel(fmt)) {
    throw std::invalid_argument(std::string(format_name(fmt)) + " weights have no linear kernel; they are converted at load to " +
                                format_name(load_format(fmt)));
  }
  if (num_cols % format_block_values(fmt) != 0) {
    throw std::invalid_argument(std::string(format_name(fmt)) + " weights need rows of a multiple of " +
                                std::to_string(format_block_values(fmt)) + " values, got " + std::to_string(num_cols));
  }
  row_stride = weight_row_bytes(fmt, num_cols);
  storage = HugeBuffer(static_cast<size_t>(num_rows) * row_stride);
}

void WeightMatrix::store_rows(int first_row, int num_rows, const float* values) {
  size_t count = static_cast<size_t>(num_rows) * cols;
  uint8_t* dst = static_cast<uint8_t*>(storage.data()) + static_cast<size_t>(first_row) * row_stride;
  if (is_quantized(format)) {
    for (int r = 0; r < num_rows; ++r) quantize_row(format, values + static_cast<size_t>(r) * cols, dst + r * row_stride, cols);
    return;
  }
  if (format == WeightFormat::F32) {
    std::memcpy(dst, values, count * 4);
    return;
  }
  auto* out = reinterpret_cast<uint16_t*>(dst);
  if (format == WeightFormat::BF16) {
    for (size_t i = 0; i < count; ++i) out[i] = f32_to_bf16(values[i]);
  } else {
    for (size_t i = 0; i < count; ++i) out[i] = f32_to_f16(values[i]);
  }
}

void WeightMatrix::store_raw_rows(int first_row, int num_rows, const void* raw) {
  std::memcpy(static_cast<uint8_t*>(storage.data()) + static_cast<size_t>(first_row) * row_stride, raw,
              static_cast<size_t>(num_rows) * row_stride);
}

void WeightMatrix::load_row(int row, float* out) const {
  const void* src = row_ptr(row);
  if (is_quantized(format)) {
    dequantize_row(format, src, out, cols);
  } else if (format == WeightFormat::F32) {
    std::memcpy(out, src, static_cast<size_t>(cols) * 4);
  } else if (format == WeightFormat::BF16) {
    bf16_to_f32_array(static_cast<const uint16_t*>(src), out, cols);
  } else {
    f16_to_f32_array(static_cast<const uint16_t*>(src), out, cols);
  }
}

void convert_to_f32(DType dtype, const void* in, float* out, size_t num) {
  switch (dtype) {
    case DType::F32: std::memcpy(out, in, num * 4); break;
    case DType::BF16: bf16_to_f32_array(static_cast<const uint16_t*>(in), out, num); break;
    case DType::F16: f16_to_f32_array(static_cast<const uint16_t*>(in), out, num); break;
  }
}

namespace {

template <typename Decode>
void scalar_block_with(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
                       const float* bias, float* y, Decode decode) {
  const int k_dim = w.cols;
  for (int n = col_begin; n < col_end; ++n) {
    const auto* w_row = static_cast<const typename Decode::Element*>(w.row_ptr(n));
    for (int m = row_begin; m < row_end; ++m) {
      const float* x_row = x + static_cast<size_t>(m) * k_dim;
      // Four partial sums shorten the dependency chain and keep rounding close to the vector path.
      float sums[4] = {0, 0, 0, 0};
      int k = 0;
      for (; k + 4 <= k_dim; k += 4) {
        for (int lane = 0; lane < 4; ++lane) sums[lane] += x_row[k + lane] * decode(w_row[k + lane]);
      }
      for (; k < k_dim; ++k) sums[0] += x_row[k] * decode(w_row[k]);
      float total = (sums[0] + sums[1]) + (sums[2] + sums[3]);
      y[static_cast<size_t>(m) * w.rows + n] = total + (bias ? bias[n] : 0.f);
    }
  }
}

struct DecodeF32 {
  using Element = float;
  float operator()(float v) const { return v; }
};
struct DecodeBF16 {
  using Element = uint16_t;
  float operator()(uint16_t v) const { return bf16_to_f32(v); }
};
struct DecodeF16 {
  using Element = uint16_t;
  float operator()(uint16_t v) const { return f16_to_f32(v); }
};

void scalar_block(const float* x, int row_begin, int row_end, const WeightMatrix& w, int col_begin, int col_end,
                  const float* bias, float* y) {
  switch (w.format) {
    case WeightFormat::F32: scalar_block_with(x, row_begin, row_end, w, col_begin, col_end, bias, y, DecodeF32{}); break;
    case WeightFormat::BF16: scalar_block_with(x, row_begin, row_end, w, col_begin, col_end, bias, y, DecodeBF16{}); break;
    case WeightFormat::F16: scalar_block_with(x, row_begin, row_end, w, col_begin, col_end, bias, y, DecodeF16{}); break;
    default: break;  // quantized formats take linear_quantized
  }
}

// Many rows (prefill, large batches): compute-bound, so each task takes a column chunk of W for all rows and the
// packed kernel converts every weight once. Chunks are whole panels (16 columns, 32 in the AVX-512 build), about four
// per thread so a thread slowed by another tenant hands its share to the other, and at most 256 columns.
void linear_packed(ThreadPool& pool, const float* x, int num_rows, const WeightMatrix& w, const float* bias, float* y) {
  const bool zmm = float_panel_width_in_use() == FloatPanelWidth::kAvx512;
  const auto columns = zmm ? avx2::linear_packed_columns_avx512 : avx2::linear_packed_columns;
  const int panel = zmm ? avx2::kPackedPanelColsAvx512 : avx2::kPackedPanelCols;
  int col_chunk = (w.rows + pool.size() * 4 - 1) / (pool.size() * 4);
  col_chunk = std::max(panel, std::min(256, (col_chunk + panel - 1) / panel * panel));
  const int num_col_chunks = (w.rows + col_chunk - 1) / col_chunk;
  pool.parallel_for(num_col_chunks, [&](int task) {
    const int col_begin = task * col_chunk;
    columns(x, num_rows, w, col_begin, std::min(w.rows, col_begin + col_chunk), bias, y);
  });
}

}  // namespace

void linear(ThreadPool& pool, const float* x, int num_rows, const WeightMatrix& w, const float* bias, float* y,
            LinearOrder order) {
  if (num_rows <= 0 || w.rows <= 0) return;
  if (is_quantized(w.format)) {
    linear_quantized(pool, x, num_rows, w, bias, y);
    return;
  }
  if (order == LinearOrder::kFastest && num_rows >= avx2::kPackedMinRows && avx2_enabled()) {
    linear_packed(pool, x, num_rows, w, bias, y);
    return;
  }
  // Few rows (decode, speculative verification chunks), or any number in the batch-invariant order: dot products
  // straight from the stored weights (linear_avx2.cpp: up to 9 rows in one register tile, each weight load shared
  // by all of them). Tasks are (row block, column chunk). A column chunk of weights (<= 48 rows of W) stays in L2
  // while all row tiles stream past it; several chunks per thread even out the load between threads.
  const bool vector = avx2_enabled();
  for_weight_tiles(pool, w.rows, num_rows, 128, 12, 48, [&](int col_begin, int col_end, int row_begin, int row_end) {
    if (vector) {
      avx2::linear_block(x, row_begin, row_end, w, col_begin, col_end, bias, y);
    } else {
      scalar_block(x, row_begin, row_end, w, col_begin, col_end, bias, y);
    }
  });
}

}  // namespace cpu
}  // namespace pagedllm
