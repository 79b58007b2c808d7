// The device helpers every kernel file uses: fp32 <-> bf16/fp16 conversions, 16-byte unpacking, warp and block
// reductions. Device code only, leaning on what its includer provides (cuda_common.cuh: the CUDA headers;
// emulation/cuda_emulation.h: the same intrinsics on the CPU), so the emulation runs these very helpers.
#pragma once
#include <cstdint>

// Dynamic shared memory, sized by the launch (16-byte aligned, for vector loads): a macro, so the CPU emulation can hand
// out its own buffer.
#ifndef PAGEDLLM_DYNAMIC_SHARED
#define PAGEDLLM_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

namespace pagedllm::cuda {

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

}  // namespace pagedllm::cuda
