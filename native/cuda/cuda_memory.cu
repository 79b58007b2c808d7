// Device and pinned-host allocations with checked cudaMalloc / cudaHostAlloc.
#include "cuda_common.cuh"
#include "cuda_memory.h"

namespace pagedllm::cuda {

template <bool kPinnedHost>
void Allocation<kPinnedHost>::resize(size_t bytes) {
  release();
  if (bytes == 0) return;
  if constexpr (kPinnedHost) {
    PAGEDLLM_CUDA_CHECK(cudaHostAlloc(&data_, bytes, cudaHostAllocDefault));
  } else {
    PAGEDLLM_CUDA_CHECK(cudaMalloc(&data_, bytes));
  }
  bytes_ = bytes;
}

template <bool kPinnedHost>
void Allocation<kPinnedHost>::release() {
  if (!data_) return;
  // Errors are ignored here: a destructor must not throw, and a failed free leaves nothing to recover.
  if constexpr (kPinnedHost) {
    cudaFreeHost(data_);
  } else {
    cudaFree(data_);
  }
  data_ = nullptr;
  bytes_ = 0;
}

template class Allocation<false>;
template class Allocation<true>;

}  // namespace pagedllm::cuda
