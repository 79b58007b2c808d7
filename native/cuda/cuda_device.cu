// Device discovery: works without a driver (static cudart reports "insufficient driver" instead of failing to load).
#include "cuda_common.cuh"
#include "cuda_device.h"
#include "pagedllm/backend.h"

namespace pagedllm {

bool cuda_device_available(std::string* device_name_or_reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (device_name_or_reason) *device_name_or_reason = cudaGetErrorString(status);
    cudaGetLastError();  // reset the last-error state so later checks do not see this one
    return false;
  }
  if (count == 0) {
    if (device_name_or_reason) *device_name_or_reason = "no CUDA device found";
    return false;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    if (device_name_or_reason) *device_name_or_reason = "cannot read the properties of device 0";
    return false;
  }
  if (prop.major < 8) {
    if (device_name_or_reason)
      *device_name_or_reason = std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
                               std::to_string(prop.minor) + "; pagedllm's kernels need 8.0 or newer";
    return false;
  }
  if (device_name_or_reason) *device_name_or_reason = prop.name;
  return true;
}

bool cuda_memory_info(CudaMemoryInfo* info, std::string* why) {
  if (!cuda_device_available(why)) return false;
  size_t free_bytes = 0, total_bytes = 0;
  const cudaError_t status = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (status != cudaSuccess) {
    if (why) *why = cudaGetErrorString(status);
    return false;
  }
  info->free_bytes = free_bytes;
  info->total_bytes = total_bytes;
  return true;
}

}  // namespace pagedllm
