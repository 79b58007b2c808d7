// The `cuda` export of pagedllm.node (builds with CUDA only): kernel self-checks, kernel timings, free device memory.
#pragma once
#include <napi.h>

namespace pagedllm {
Napi::Object CreateCudaBindings(Napi::Env env);
}
