// The WMMA GEMM y = x * w^T (bf16/fp16 in, fp32 accumulation): cuBLAS's fallback and test reference (gemm.cu picks).
// Split-K for decode writes per-split partials that one kernel sums in split order: no atomics, same bits every run.
#include <mma.h>

#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 32;
constexpr int kPad = 8;  // 16 bytes per smem row: keeps WMMA loads off a single bank
constexpr int kThreads = 128;

// Copies a [64 rows, 32 k] tile of a row-major [rows, K] matrix into shared memory, zero-filling outside it.
template <typename T>
__device__ __forceinline__ void load_tile(const T* __restrict__ matrix, int rows, int K, int row0, int k0, int k_end,
                                          T (*tile)[kTileK + kPad]) {
  const bool vector_ok = (K % 8) == 0;
  for (int chunk = threadIdx.x; chunk < kTileM * kTileK / 8; chunk += kThreads) {
    const int r = chunk / (kTileK / 8), c = (chunk % (kTileK / 8)) * 8;
    const int gr = row0 + r, gk = k0 + c;
    if (vector_ok && gr < rows && gk + 8 <= k_end) {
      *reinterpret_cast<uint4*>(&tile[r][c]) = *reinterpret_cast<const uint4*>(matrix + int64_t(gr) * K + gk);
    } else {
      for (int e = 0; e < 8; ++e)
        tile[r][c + e] = (gr < rows && gk + e < k_end) ? matrix[int64_t(gr) * K + gk + e] : from_float<T>(0.f);
    }
  }
}

// Grid (n tile, m tile, k split). Four warps, each owning a 32x32 corner of the 64x64 output tile.
template <typename T>
__global__ void __launch_bounds__(kThreads) linear_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                          const float* __restrict__ bias, int M, int N, int K,
                                                          int k_per_split, float* __restrict__ y) {
  // Split-K: y points at this split's [M, N] partial in the workspace; the reduce kernel adds the bias.
  using namespace nvcuda;
  // WMMA loads and stores need 256-bit aligned pointers; every fragment offset below is a multiple of 32 bytes.
  __shared__ __align__(128) T a_tile[kTileM][kTileK + kPad];
  __shared__ __align__(128) T b_tile[kTileN][kTileK + kPad];
  __shared__ __align__(128) float c_tile[kTileM][kTileN + 4];
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  const int k_begin = blockIdx.z * k_per_split, k_end = min(K, k_begin + k_per_split);
  const int warp = threadIdx.x >> 5, warp_m = (warp / 2) * 32, warp_n = (warp % 2) * 32;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  for (int k0 = k_begin; k0 < k_end; k0 += kTileK) {
    load_tile(x, M, K, m0, k0, k_end, a_tile);
    load_tile(w, N, K, n0, k0, k_end, b_tile);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b[2];  // w rows are B's columns
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &a_tile[warp_m + 16 * i][kk], kTileK + kPad);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &b_tile[warp_n + 16 * j][kk], kTileK + kPad);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&c_tile[warp_m + 16 * i][warp_n + 16 * j], acc[i][j], kTileN + 4, wmma::mem_row_major);
  __syncthreads();
  const bool split = gridDim.z > 1;
  float* out = y + (split ? int64_t(blockIdx.z) * M * N : 0);
  for (int e = threadIdx.x; e < kTileM * kTileN; e += kThreads) {
    const int r = e / kTileN, c = e % kTileN, gm = m0 + r, gn = n0 + c;
    if (gm >= M || gn >= N) continue;
    out[int64_t(gm) * N + gn] = c_tile[r][c] + (bias && !split ? bias[gn] : 0.f);
  }
}

// y = sum of the split partials in split order (a fixed order, so the bits never depend on scheduling) + bias.
__global__ void reduce_splits_kernel(const float* __restrict__ partials, int splits, const float* __restrict__ bias,
                                     int64_t M, int N, float* __restrict__ y) {
  const int64_t total = M * N;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    float sum = bias ? bias[e % N] : 0.f;
    for (int s = 0; s < splits; ++s) sum += partials[s * total + e];
    y[e] = sum;
  }
}

__global__ void add_bias_rows_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t total, int N) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x)
    y[e] += bias[e % N];
}

struct SplitPlan {
  int splits = 1;
  int k_per_split = 0;
};

// Decode batches give few output tiles; split K until about two blocks per SM read the weights.
SplitPlan plan_splits(int M, int N, int K, int num_sms) {
  const int tiles = ceil_div(N, kTileN) * ceil_div(M, kTileM);
  int splits = 1;
  if (tiles < 2 * num_sms) splits = std::min({ceil_div(2 * num_sms, tiles), std::max(1, K / (4 * kTileK)), 16});
  SplitPlan plan;
  plan.k_per_split = ceil_div(ceil_div(K, splits), kTileK) * kTileK;
  plan.splits = std::max(1, ceil_div(K, plan.k_per_split));
  return plan;
}

}  // namespace

size_t linear_split_workspace_floats(int M, int N, int K, int num_sms) {
  if (M == 0) return 0;
  const SplitPlan plan = plan_splits(M, N, K, num_sms);
  return plan.splits > 1 ? size_t(plan.splits) * M * N : 0;
}

template <typename T>
void linear(const T* x, const T* w, const float* bias, int M, int N, int K, float* y, int num_sms, float* split_workspace,
            cudaStream_t stream) {
  if (M == 0) return;
  const int tiles_n = ceil_div(N, kTileN), tiles_m = ceil_div(M, kTileM);
  // Row tiles are the grid's y dimension (at most 65,535): src/engine/gpu-memory.ts bounds --max-num-batched-tokens by it.
  if (tiles_m > 65535) throw std::runtime_error("linear: more than 65,535 x 64 rows");
  const SplitPlan plan = plan_splits(M, N, K, num_sms);
  if (plan.splits > 1 && split_workspace == nullptr) throw std::runtime_error("linear: split-K needs a workspace");
  float* out = plan.splits > 1 ? split_workspace : y;
  linear_kernel<T><<<dim3(tiles_n, tiles_m, plan.splits), kThreads, 0, stream>>>(x, w, bias, M, N, K, plan.k_per_split, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("linear_kernel");
  if (plan.splits > 1) {
    const int64_t total = int64_t(M) * N;
    const int blocks = int(std::min<int64_t>((total + 255) / 256, 8 * int64_t(num_sms)));
    reduce_splits_kernel<<<blocks, 256, 0, stream>>>(split_workspace, plan.splits, bias, M, N, y);
    PAGEDLLM_CUDA_CHECK_LAUNCH("reduce_splits_kernel");
  }
}

void add_bias_rows(float* y, const float* bias, int M, int N, cudaStream_t stream) {
  const int64_t total = int64_t(M) * N;
  if (total == 0 || bias == nullptr) return;
  add_bias_rows_kernel<<<int(std::min<int64_t>((total + 255) / 256, 4096)), 256, 0, stream>>>(y, bias, total, N);
  PAGEDLLM_CUDA_CHECK_LAUNCH("add_bias_rows_kernel");
}

template void linear<__half>(const __half*, const __half*, const float*, int, int, int, float*, int, float*, cudaStream_t);
template void linear<__nv_bfloat16>(const __nv_bfloat16*, const __nv_bfloat16*, const float*, int, int, int, float*, int,
                                    float*, cudaStream_t);

}  // namespace pagedllm::cuda
