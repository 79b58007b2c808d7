// Packed-panel GEMM for float linear layers with many rows: y = x W^T with W [N, K] row-major, built once per vector
// width from this one source: Ymm (AVX2/FMA, linear_packed_avx2.cpp) and Zmm (AVX-512, linear_packed_avx512.cpp).
// kPanelVectors * kLanes weight rows at a time are transposed (and widened from bf16/f16) into a 64-byte-aligned
// k-major fp32 panel, and a register tile of kTileRows rows walks all rows of x over it: each k step broadcasts one
// x value per row and does one FMA per panel vector, with no horizontal sums. So each output column is one lane doing
// FMAs over k in order, K blocked alike: both widths give the same outputs bit for bit. While one panel is in use the
// next one's weights are prefetched, so the LM head's stream from memory overlaps the arithmetic.
#pragma once
#include "linear_packed.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "simd_avx2.h"

namespace pagedllm {
namespace cpu {
namespace avx2 {

namespace {

// 8 lanes: a 6 x 16 tile is 12 accumulators, 2 panel vectors and a broadcast of the 16 ymm registers.
struct Ymm {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static constexpr int kPanelVectors = 2;
  static constexpr int kTileRows = 6;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_load_ps(p); }
  static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  // Lanes [0, n) (none for n <= 0, all for n >= kLanes).
  static Mask first_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store_masked(float* p, Mask m, Vec v) { _mm256_maskstore_ps(p, m, v); }
};

#ifdef __AVX512F__
// 16 lanes: a 14 x 32 tile is 28 accumulators and 2 panel vectors of the 32 zmm registers, the broadcasts folded into
// the FMAs as memory operands.
struct Zmm {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr int kPanelVectors = 2;
  static constexpr int kTileRows = 14;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_load_ps(p); }
  static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Mask first_lanes(int n) {
    return n <= 0 ? Mask{0} : n >= kLanes ? Mask{0xFFFF} : static_cast<Mask>((1u << n) - 1);
  }
  static Vec load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
};
#endif

// Longest K block: the y tile is re-read once per further block, so fewer blocks win over keeping a 16 x KC panel
// inside L1 (measured: 512 beats 256 and 768 for K = 512 and 1536). Part of the summation order: every width uses it.
constexpr int kMaxKBlock = 512;

// K blocks of near-equal length (a multiple of 8, so the panel packing takes whole 8x8 transposes).
int k_block(int k_dim) {
  const int blocks = (k_dim + kMaxKBlock - 1) / kMaxKBlock;
  return std::min(k_dim, ((k_dim + blocks - 1) / blocks + 7) / 8 * 8);
}

// panel[k * kCols + j] = W[n0 + j, k0 + k] for j < rows (zeros above: they feed output columns nobody stores), 8
// columns at a time through 8x8 transposes.
template <WeightFormat F, int kCols>
void pack_panel(const WeightMatrix& w, int n0, int rows, int k0, int kc, float* panel) {
  constexpr size_t kBytes = F == WeightFormat::F32 ? 4 : 2;
  const auto* base = static_cast<const uint8_t*>(w.storage.data());
  for (int first = 0; first < kCols; first += 8) {
    const int count = std::clamp(rows - first, 0, 8);
    float* out = panel + first;
    if (count == 8) {
      const void* src[8];
      for (int j = 0; j < 8; ++j) src[j] = base + (static_cast<size_t>(n0 + first + j) * w.cols + k0) * kBytes;
      int k = 0;
      for (; k + 8 <= kc; k += 8) {
        __m256 block[8];
        for (int j = 0; j < 8; ++j) block[j] = load_weights8<F>(src[j], k);
        transpose8(block);
        for (int c = 0; c < 8; ++c) _mm256_store_ps(out + static_cast<size_t>(k + c) * kCols, block[c]);
      }
      for (; k < kc; ++k)
        for (int j = 0; j < 8; ++j) out[static_cast<size_t>(k) * kCols + j] = load_weight1<F>(src[j], k);
    } else {
      for (int k = 0; k < kc; ++k)
        for (int j = 0; j < 8; ++j) {
          out[static_cast<size_t>(k) * kCols + j] =
              j < count ? load_weight1<F>(base + (static_cast<size_t>(n0 + first + j) * w.cols + k0) * kBytes, k) : 0.f;
        }
    }
  }
}

// Walks the cache lines of the next weight panel (rows x row_bytes at row_stride), one prefetch per call, so the
// requests spread over the arithmetic instead of queueing up in bursts.
class PanelPrefetch {
 public:
  PanelPrefetch() = default;
  PanelPrefetch(const uint8_t* first_row, size_t row_stride, int rows, size_t row_bytes)
      : row_(first_row), row_stride_(row_stride), lines_per_row_((row_bytes + 63) / 64), rows_left_(rows) {}

  void step() {
    if (rows_left_ <= 0) return;
    _mm_prefetch(reinterpret_cast<const char*>(row_ + line_ * 64), _MM_HINT_T0);
    if (++line_ == lines_per_row_) line_ = 0, row_ += row_stride_, --rows_left_;
  }

 private:
  const uint8_t* row_ = nullptr;
  size_t row_stride_ = 0;
  size_t lines_per_row_ = 0;
  size_t line_ = 0;
  int rows_left_ = 0;
};

// Where a tile's results go: the first K block writes (plus bias), later ones add.
template <class V>
struct TileOutput {
  float* y;  // row 0, column 0 of the tile
  size_t ldy;
  bool full;  // all kPanelVectors * kLanes columns valid
  bool accumulate;
  typename V::Vec init[V::kPanelVectors];   // bias (or zero) for the first K block
  typename V::Mask mask[V::kPanelVectors];  // valid lanes when not full
};

// y[i, panel columns] (+)= sum_k x[i, k] * panel[k, columns] for MR rows of x (row stride ldx); one prefetch of the
// next panel every 8 k steps.
template <class V, int MR>
void tile(const float* x, size_t ldx, const float* panel, int kc, const TileOutput<V>& out, PanelPrefetch& prefetch) {
  constexpr int NV = V::kPanelVectors;
  constexpr size_t kCols = NV * V::kLanes;
  // Every loop over the tile is unrolled so the accumulators live in registers (GCC otherwise keeps the array on
  // the stack and stores it on every k step).
  typename V::Vec acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();
  const float* rows[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) rows[i] = x + i * ldx;
  auto step = [&](int k) {
    typename V::Vec w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = V::load(panel + k * kCols + v * V::kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename V::Vec a = V::broadcast(rows[i] + k);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(a, w[v], acc[i][v]);
    }
  };
  int k = 0;
  for (; k + 8 <= kc; k += 8) {
    prefetch.step();
#pragma GCC unroll 8
    for (int kk = 0; kk < 8; ++kk) step(k + kk);
  }
  for (; k < kc; ++k) step(k);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* dst = out.y + i * out.ldy;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* at = dst + v * V::kLanes;
      typename V::Vec base = out.init[v];
      if (out.accumulate) base = out.full ? V::loadu(at) : V::load_masked(at, out.mask[v]);
      const typename V::Vec sum = V::add(base, acc[i][v]);
      if (out.full) {
        V::storeu(at, sum);
      } else {
        V::store_masked(at, out.mask[v], sum);
      }
    }
  }
}

template <class V>
using TileFn = void (*)(const float*, size_t, const float*, int, const TileOutput<V>&, PanelPrefetch&);

// tiles[r] runs an r-row tile, r = 1..kTileRows.
template <class V, int... R>
constexpr auto make_tiles(std::integer_sequence<int, R...>) {
  return std::array<TileFn<V>, sizeof...(R) + 1>{nullptr, tile<V, R + 1>...};
}

template <class V, WeightFormat F>
void packed_columns(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end, const float* bias,
                    float* y) {
  constexpr int kPanelCols = V::kPanelVectors * V::kLanes;
  static constexpr auto kTiles = make_tiles<V>(std::make_integer_sequence<int, V::kTileRows>{});
  const int k_dim = w.cols;
  const int kc_max = k_block(k_dim);
  // One 64-byte-aligned panel: each k step of it is one or two whole cache lines.
  thread_local Scratch panel_scratch;
  float* raw = panel_scratch.floats(static_cast<size_t>(kc_max) * kPanelCols + 16);
  float* panel = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t{63});
  const size_t ldy = static_cast<size_t>(w.rows);
  constexpr size_t kBytes = F == WeightFormat::F32 ? 4 : 2;
  const auto* base = static_cast<const uint8_t*>(w.storage.data());
  for (int k0 = 0; k0 < k_dim; k0 += kc_max) {
    const int kc = std::min(kc_max, k_dim - k0);
    for (int n0 = col_begin; n0 < col_end; n0 += kPanelCols) {
      const int cols = std::min(kPanelCols, col_end - n0);
      pack_panel<F, kPanelCols>(w, n0, cols, k0, kc, panel);
      TileOutput<V> out{};
      out.ldy = ldy;
      out.full = cols == kPanelCols;
      out.accumulate = k0 > 0;
      for (int v = 0; v < V::kPanelVectors; ++v) {
        out.mask[v] = V::first_lanes(cols - v * V::kLanes);
        out.init[v] = bias ? V::load_masked(bias + n0 + v * V::kLanes, out.mask[v]) : V::zero();
      }
      // The next panel's weights are usually not in cache (the LM head streams from memory): the tiles fetch
      // them while they compute, so packing them does not stall on DRAM.
      int next_n0 = n0 + kPanelCols, next_k0 = k0;
      if (next_n0 >= col_end) next_n0 = col_begin, next_k0 = k0 + kc;
      PanelPrefetch prefetch;
      if (next_k0 < k_dim) {
        prefetch = PanelPrefetch(base + (static_cast<size_t>(next_n0) * k_dim + next_k0) * kBytes, k_dim * kBytes,
                                 std::min(kPanelCols, col_end - next_n0), std::min(kc_max, k_dim - next_k0) * kBytes);
      }
      for (int m = 0; m < num_rows; m += V::kTileRows) {
        const int rows = std::min(V::kTileRows, num_rows - m);
        out.y = y + static_cast<size_t>(m) * ldy + n0;
        kTiles[rows](x + static_cast<size_t>(m) * k_dim + k0, static_cast<size_t>(k_dim), panel, kc, out, prefetch);
      }
    }
  }
}

// The entry both builds export: the panel kernel for w's float format.
template <class V>
void run_packed_columns(const float* x, int num_rows, const WeightMatrix& w, int col_begin, int col_end,
                        const float* bias, float* y) {
  switch (w.format) {
    case WeightFormat::F32: packed_columns<V, WeightFormat::F32>(x, num_rows, w, col_begin, col_end, bias, y); break;
    case WeightFormat::BF16: packed_columns<V, WeightFormat::BF16>(x, num_rows, w, col_begin, col_end, bias, y); break;
    case WeightFormat::F16: packed_columns<V, WeightFormat::F16>(x, num_rows, w, col_begin, col_end, bias, y); break;
    default: break;  // quantized formats take linear_quantized
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace pagedllm
