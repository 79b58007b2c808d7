// GPU discovery for the bindings: is a usable device there (or why not), and how much memory is free for KV sizing.
#pragma once
#include <cstdint>
#include <string>

namespace pagedllm {

struct CudaMemoryInfo {
  uint64_t free_bytes = 0;
  uint64_t total_bytes = 0;
};

// False (with the reason in `why`) when no device or driver is usable.
bool cuda_memory_info(CudaMemoryInfo* info, std::string* why);

}  // namespace pagedllm
