// GEMV for steps of 1-4 rows (batch-1 decode): y[m, n] = x[m, :] . w[n, :] (+ bias[n]). Reading the weights is
// the whole cost, so one warp owns one output column and streams its weight row once with 16-byte loads, several
// in flight per lane, and every row's dot product reuses the same loaded weights. More rows would read x from L1
// faster than it can serve (4 rows already read 4x the weight bytes from it), so cuBLAS takes those.
#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

namespace {

constexpr int kGemvWarps = 8;   // output columns per block
constexpr int kGemvUnroll = 4;  // 16-byte weight loads in flight per lane

// Lane l of a warp sums 8-element chunks l, l + 32, ... of the row in order; the warp then reduces by a fixed tree.
template <typename T, int ROWS>
__global__ void __launch_bounds__(kGemvWarps * 32)
    gemv_kernel(const T* __restrict__ x, const T* __restrict__ w, const float* __restrict__ bias, int N, int K,
                float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const int n = blockIdx.x * kGemvWarps + (threadIdx.x >> 5);
  if (n >= N) return;  // the whole warp
  const int chunks = K / 8;
  const uint4* w_row = reinterpret_cast<const uint4*>(w + int64_t(n) * K);
  float acc[ROWS];
#pragma unroll
  for (int m = 0; m < ROWS; ++m) acc[m] = 0.f;
  for (int first = lane; first < chunks; first += 32 * kGemvUnroll) {
    uint4 weights[kGemvUnroll];
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u) {
      const int c = first + 32 * u;
      weights[u] = c < chunks ? __ldcs(w_row + c) : make_uint4(0, 0, 0, 0);  // streamed once: keep L1/L2 for x
    }
#pragma unroll
    for (int u = 0; u < kGemvUnroll; ++u) {
      const int c = first + 32 * u;
      if (c >= chunks) continue;
      float wf[8];
      unpack8(weights[u], wf, T{});
#pragma unroll
      for (int m = 0; m < ROWS; ++m) {
        float xf[8];
        unpack8(__ldg(reinterpret_cast<const uint4*>(x + int64_t(m) * K) + c), xf, T{});
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[m] = fmaf(wf[e], xf[e], acc[m]);
      }
    }
  }
#pragma unroll
  for (int m = 0; m < ROWS; ++m) {
    const float sum = warp_sum(acc[m]);
    if (lane == 0) y[int64_t(m) * N + n] = bias ? sum + bias[n] : sum;
  }
}

template <typename T, int ROWS>
void launch_gemv(const T* x, const T* w, const float* bias, int N, int K, float* y, cudaStream_t stream) {
  gemv_kernel<T, ROWS><<<ceil_div(N, kGemvWarps), kGemvWarps * 32, 0, stream>>>(x, w, bias, N, K, y);
  PAGEDLLM_CUDA_CHECK_LAUNCH("gemv_kernel");
}

}  // namespace

bool gemv_applies(const void* x, const void* w, int M, int K) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return M >= 1 && M <= kGemvMaxRows && K % 8 == 0 && aligned(x) && aligned(w);
}

template <typename T>
void linear_gemv(const T* x, const T* w, const float* bias, int M, int N, int K, float* y, cudaStream_t stream) {
  switch (M) {
    case 1: return launch_gemv<T, 1>(x, w, bias, N, K, y, stream);
    case 2: return launch_gemv<T, 2>(x, w, bias, N, K, y, stream);
    case 3: return launch_gemv<T, 3>(x, w, bias, N, K, y, stream);
    case 4: return launch_gemv<T, 4>(x, w, bias, N, K, y, stream);
    default: throw std::runtime_error("linear_gemv: 1 to 4 rows");
  }
}

template void linear_gemv<__half>(const __half*, const __half*, const float*, int, int, int, float*, cudaStream_t);
template void linear_gemv<__nv_bfloat16>(const __nv_bfloat16*, const __nv_bfloat16*, const float*, int, int, int, float*,
                                         cudaStream_t);

}  // namespace pagedllm::cuda
