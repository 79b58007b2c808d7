// The `ops.causalConv1dSilu` and `ops.gatedDeltaRule` bindings: the Gated DeltaNet kernels (native/cpu/gated_delta.h)
// alone, with their states passed in and updated in place, so tests hold them to a float64 reference.
#pragma once
#include <napi.h>

#include "../cpu/thread_pool.h"

namespace pagedllm {
void AddGatedDeltaOps(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)());
}
