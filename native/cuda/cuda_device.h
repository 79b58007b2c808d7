// GPU discovery for the bindings: is a usable device there (or why not), and how much memory is free for KV sizing.
#pragma once
#include <cstdint>
#include <string>

namespace pagedllm {

// What cudaStatus() reports: the device name, or the reason with the raw CUDA error name and whether the driver
// library (libcuda.so.1) loads, so src/engine/device.ts can tell "no driver at all" from "a driver too old".
struct CudaProbe {
  bool available = false;
  std::string detail;
  std::string error_name;  // e.g. cudaErrorInsufficientDriver; empty when the runtime call succeeded
  bool driver_loadable = false;
};
CudaProbe probe_cuda();

struct CudaMemoryInfo {
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;
};

// False (with the reason in `why`) when no device or driver is usable.
bool cuda_memory_info(CudaMemoryInfo* info, std::string* why);

}  // namespace pagedllm
