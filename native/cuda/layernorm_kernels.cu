// RMSNorm over fp32 rows into bf16/fp16 GEMM inputs (or fp32 rows: Gemma 2's sandwich norms), optionally fused with the
// residual add or a row gather. Norm weights are fp32 (Gemma's 1 + weight is formed at load, in fp32, as on the CPU).
#include <algorithm>

#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

// One block per output row. With delta, residual[src] += delta[src] is written back in the same pass,
// so the residual stream is read once per layer instead of twice. A gathered final norm (row_indices set) does
// not write back: a row listed twice would otherwise be added twice by two blocks.
// Rows whose width is a multiple of 4 and at most kVecPerThread * 4 * blockDim are read as float4, all of a thread's
// loads issued before the first use and kept in registers for the second pass (a decode step's single row is
// otherwise latency-bound); other widths take the plain strided loop.
constexpr int kVecPerThread = 4;

template <typename T>
__device__ __forceinline__ void store4(T* dst, float4 v) {
  dst[0] = from_float<T>(v.x);
  dst[1] = from_float<T>(v.y);
  dst[2] = from_float<T>(v.z);
  dst[3] = from_float<T>(v.w);
}

template <typename T>
__global__ void __launch_bounds__(1024)
    rms_norm_kernel(float* __restrict__ x, const float* __restrict__ delta, const int32_t* __restrict__ row_indices,
                    int hidden, const float* __restrict__ weight, float eps, T* __restrict__ out) {
  __shared__ float scratch[32];
  const int64_t src = row_indices ? row_indices[blockIdx.x] : blockIdx.x;
  float* row = x + src * hidden;
  const float* delta_row = delta ? delta + src * hidden : nullptr;
  const bool write_back = delta_row && !row_indices;
  T* dst = out + int64_t(blockIdx.x) * hidden;
  const int quads = hidden / 4;
  if (hidden % 4 == 0 && quads <= kVecPerThread * int(blockDim.x)) {
    float4 values[kVecPerThread];
    float sum_squares = 0.f;
#pragma unroll
    for (int k = 0; k < kVecPerThread; ++k) {
      const int i = threadIdx.x + k * blockDim.x;
      if (i >= quads) continue;
      float4 v = reinterpret_cast<const float4*>(row)[i];
      if (delta_row) {
        const float4 d = reinterpret_cast<const float4*>(delta_row)[i];
        v.x += d.x, v.y += d.y, v.z += d.z, v.w += d.w;
      }
      values[k] = v;
      sum_squares += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    const float inv_rms = rsqrtf(block_sum(sum_squares, scratch) / hidden + eps);
#pragma unroll
    for (int k = 0; k < kVecPerThread; ++k) {
      const int i = threadIdx.x + k * blockDim.x;
      if (i >= quads) continue;
      if (write_back) reinterpret_cast<float4*>(row)[i] = values[k];
      const float4 v = values[k];
      store4(dst + 4 * i, make_float4(v.x * inv_rms * to_float(weight[4 * i]), v.y * inv_rms * to_float(weight[4 * i + 1]),
                                      v.z * inv_rms * to_float(weight[4 * i + 2]), v.w * inv_rms * to_float(weight[4 * i + 3])));
    }
    return;
  }
  float sum_squares = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    float value = row[i];
    if (delta_row) value += delta_row[i];
    if (write_back) row[i] = value;
    sum_squares += value * value;
  }
  const float inv_rms = rsqrtf(block_sum(sum_squares, scratch) / hidden + eps);
  // Each thread re-reads only the elements it wrote itself, so no barrier is needed before this loop.
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float value = write_back || !delta_row ? row[i] : row[i] + delta_row[i];
    dst[i] = from_float<T>(value * inv_rms * to_float(weight[i]));
  }
}

// Enough threads that each holds at most kVecPerThread float4 of the row (whole warps, 32 to 1024).
int norm_threads(int hidden) {
  const int per_thread = 4 * kVecPerThread;
  return std::min(1024, std::max(32, (hidden + per_thread - 1) / per_thread + 31) / 32 * 32);
}

template <typename T>
void rms_norm(const float* x, const int32_t* row_indices, int num_rows, int hidden, const float* weight, float eps, T* out,
              cudaStream_t stream) {
  if (num_rows == 0) return;
  rms_norm_kernel<T><<<num_rows, norm_threads(hidden), 0, stream>>>(const_cast<float*>(x), nullptr, row_indices, hidden, weight, eps, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("rms_norm_kernel");
}

template <typename T>
void fused_add_rms_norm(float* residual, const float* delta, const int32_t* row_indices, int num_rows, int hidden, const float* weight, float eps, T* out,
                        cudaStream_t stream) {
  if (num_rows == 0) return;
  rms_norm_kernel<T><<<num_rows, norm_threads(hidden), 0, stream>>>(residual, delta, row_indices, hidden, weight, eps, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("fused_add_rms_norm_kernel");
}

template void rms_norm<__half>(const float*, const int32_t*, int, int, const float*, float, __half*, cudaStream_t);
template void rms_norm<__nv_bfloat16>(const float*, const int32_t*, int, int, const float*, float, __nv_bfloat16*, cudaStream_t);
template void rms_norm<float>(const float*, const int32_t*, int, int, const float*, float, float*, cudaStream_t);
template void fused_add_rms_norm<__half>(float*, const float*, const int32_t*, int, int, const float*, float, __half*, cudaStream_t);
template void fused_add_rms_norm<__nv_bfloat16>(float*, const float*, const int32_t*, int, int, const float*, float, __nv_bfloat16*,
                                                cudaStream_t);

}  // namespace pagedllm::cuda
