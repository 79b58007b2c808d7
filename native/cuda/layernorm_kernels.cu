// RMSNorm over fp32 rows into bf16/fp16 GEMM inputs, optionally fused with the residual add or a row gather.
#include "cuda_common.cuh"
#include "cuda_ops.h"

namespace pagedllm::cuda {

// One block per output row. With delta, residual[src] += delta[src] is written back in the same pass,
// so the residual stream is read once per layer instead of twice. A gathered final norm (row_indices set) does
// not write back: a row listed twice would otherwise be added twice by two blocks.
template <typename T>
__global__ void rms_norm_kernel(float* __restrict__ x, const float* __restrict__ delta, const int32_t* __restrict__ row_indices,
                                int hidden, const T* __restrict__ weight, float eps, T* __restrict__ out) {
  __shared__ float scratch[32];
  const int64_t src = row_indices ? row_indices[blockIdx.x] : blockIdx.x;
  float* row = x + src * hidden;
  const float* delta_row = delta ? delta + src * hidden : nullptr;
  const bool write_back = delta_row && !row_indices;
  float sum_squares = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    float value = row[i];
    if (delta_row) value += delta_row[i];
    if (write_back) row[i] = value;
    sum_squares += value * value;
  }
  const float inv_rms = rsqrtf(block_sum(sum_squares, scratch) / hidden + eps);
  T* dst = out + int64_t(blockIdx.x) * hidden;
  // Each thread re-reads only the elements it wrote itself, so no barrier is needed before this loop.
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float value = write_back || !delta_row ? row[i] : row[i] + delta_row[i];
    dst[i] = from_float<T>(value * inv_rms * to_float(weight[i]));
  }
}

template <typename T>
void rms_norm(const float* x, const int32_t* row_indices, int num_rows, int hidden, const T* weight, float eps, T* out,
              cudaStream_t stream) {
  if (num_rows == 0) return;
  rms_norm_kernel<T><<<num_rows, 256, 0, stream>>>(const_cast<float*>(x), nullptr, row_indices, hidden, weight, eps, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("rms_norm_kernel");
}

template <typename T>
void fused_add_rms_norm(float* residual, const float* delta, const int32_t* row_indices, int num_rows, int hidden, const T* weight, float eps, T* out,
                        cudaStream_t stream) {
  if (num_rows == 0) return;
  rms_norm_kernel<T><<<num_rows, 256, 0, stream>>>(residual, delta, row_indices, hidden, weight, eps, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("fused_add_rms_norm_kernel");
}

template void rms_norm<__half>(const float*, const int32_t*, int, int, const __half*, float, __half*, cudaStream_t);
template void rms_norm<__nv_bfloat16>(const float*, const int32_t*, int, int, const __nv_bfloat16*, float, __nv_bfloat16*,
                                      cudaStream_t);
template void fused_add_rms_norm<__half>(float*, const float*, const int32_t*, int, int, const __half*, float, __half*, cudaStream_t);
template void fused_add_rms_norm<__nv_bfloat16>(float*, const float*, const int32_t*, int, int, const __nv_bfloat16*, float, __nv_bfloat16*,
                                                cudaStream_t);

}  // namespace pagedllm::cuda
