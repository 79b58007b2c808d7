// Shared CUDA helpers: error checks that throw, and fp32 <-> bf16/fp16 conversions used by every kernel file.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace pagedllm::cuda {

// Every CUDA call is checked: a silent failure would surface later as wrong logits.
inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(status));
}
#define PAGEDLLM_CUDA_CHECK(call) ::pagedllm::cuda::check_cuda((call), #call)
// After a kernel launch: catches bad launch configurations at once (execution errors show at the next sync).
#define PAGEDLLM_CUDA_CHECK_LAUNCH(name) ::pagedllm::cuda::check_cuda(cudaGetLastError(), name)

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// 8 bf16/fp16 values of one 16-byte load as fp32 (bf16: exact shifts); the tag argument picks the format.
__device__ __forceinline__ void unpack8(const uint4& v, float (&f)[8], __nv_bfloat16) {
  const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __uint_as_float(words[i] << 16);
    f[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
  }
}
__device__ __forceinline__ void unpack8(const uint4& v, float (&f)[8], __half) {
  const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(words[i] & 0xffffu)));
    f[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(words[i] >> 16)));
  }
}

// float, or double where a sum must be exact in fp32 after rounding (the LayerNorm family's mean and variance).
template <typename V>
__device__ __forceinline__ V warp_sum(V value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Sum over a whole block; `scratch` holds one value per warp. All threads get the result.
template <typename V>
__device__ __forceinline__ V block_sum(V value, V* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, num_warps = (blockDim.x + 31) >> 5;
  value = warp_sum(value);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  V total = 0;
  for (int w = 0; w < num_warps; ++w) total += scratch[w];
  return total;
}

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace pagedllm::cuda
