// Self-checks of every CUDA kernel against float64 host references on fresh random inputs (run by npm run test:gpu).
#pragma once
#include <cstdint>
#include <string>

namespace pagedllm {

// Returns a JSON array of {"kernel", "dtype", "case", "relError", "bound", "pass"} objects.
// Throws when no device is usable.
std::string run_cuda_kernel_checks(uint32_t seed);

}  // namespace pagedllm
