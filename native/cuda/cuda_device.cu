// Device discovery: works without a driver (static cudart reports "insufficient driver" instead of failing to load).
#include <dlfcn.h>

#include "cuda_common.cuh"
#include "cuda_device.h"
#include "pagedllm/backend.h"

namespace pagedllm {
namespace {

// The runtime loads the driver library itself; whether it can tells "no driver" from "a driver too old".
bool nvidia_driver_loadable() {
  void* handle = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!handle) return false;
  dlclose(handle);
  return true;
}

}  // namespace

CudaProbe probe_cuda() {
  CudaProbe probe;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    probe.detail = cudaGetErrorString(status);
    probe.error_name = cudaGetErrorName(status);
    probe.driver_loadable = nvidia_driver_loadable();
    cudaGetLastError();  // reset the last-error state so later checks do not see this one
    return probe;
  }
  probe.driver_loadable = true;
  if (count == 0) {
    probe.detail = "no CUDA device found";
    probe.error_name = cudaGetErrorName(cudaErrorNoDevice);
    return probe;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    probe.detail = "cannot read the properties of device 0";
    return probe;
  }
  if (prop.major < 8) {
    probe.detail = std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
                   std::to_string(prop.minor) + "; pagedllm's kernels need 8.0 or newer";
    return probe;
  }
  probe.available = true;
  probe.detail = prop.name;
  return probe;
}

bool cuda_device_available(std::string* device_name_or_reason) {
  const CudaProbe probe = probe_cuda();
  if (device_name_or_reason) *device_name_or_reason = probe.detail;
  return probe.available;
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
