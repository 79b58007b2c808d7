// Kernel timings on the device against its measured copy bandwidth (run by scripts/bench-gpu.js).
#pragma once
#include <string>

namespace pagedllm {

// Returns a JSON object {"device", "copyGBs", "kernels": [{"name", "ms", "bytes", "flops", "GBs", "ofCopy", "TFLOPs"}]}.
std::string run_cuda_kernel_bench();

}  // namespace pagedllm
