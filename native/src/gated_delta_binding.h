// The `ops.causalConv1dSilu`, `ops.gatedDeltaRule` and `ops.ssdRecurrence` bindings: the Gated DeltaNet kernels
// (native/cpu/gated_delta.h) and Mamba-2's SSD recurrence (native/cpu/mamba2_mixer.h) alone, with their states passed in
// and updated in place, so tests hold them to a float64 reference.
#pragma once
#include <napi.h>

#include "../cpu/thread_pool.h"

namespace pagedllm {
void AddGatedDeltaOps(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)());
}
