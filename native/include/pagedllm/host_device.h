// PAGEDLLM_HOST_DEVICE: a function of a shared header that CUDA kernels call too (__host__ __device__ under nvcc).
#pragma once

#ifdef __CUDACC__
#define PAGEDLLM_HOST_DEVICE __host__ __device__
#else
#define PAGEDLLM_HOST_DEVICE
#endif
