// Shared CUDA helpers: error checks that throw, the CUDA headers, and (cuda_device_helpers.cuh) the device helpers used
// by every kernel file.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda_device_helpers.cuh"

namespace pagedllm::cuda {

// Every CUDA call is checked: a silent failure would surface later as wrong logits.
inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(status));
}
#define PAGEDLLM_CUDA_CHECK(call) ::pagedllm::cuda::check_cuda((call), #call)
// After a kernel launch: catches bad launch configurations at once (execution errors show at the next sync).
#define PAGEDLLM_CUDA_CHECK_LAUNCH(name) ::pagedllm::cuda::check_cuda(cudaGetLastError(), name)

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace pagedllm::cuda
