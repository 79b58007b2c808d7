// The `cuda` export of pagedllm.node (builds with CUDA only): free device memory for KV sizing, the GEMM choice.
#pragma once
#include <napi.h>

namespace pagedllm {
Napi::Object CreateCudaBindings(Napi::Env env);
}
