// The `ops` export: each CPU kernel callable alone from JS, for op-by-op tests and `pagedllm bench kernels`.
#pragma once
#include <napi.h>

namespace pagedllm {
Napi::Object CreateOps(Napi::Env env);
}
