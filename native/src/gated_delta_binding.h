// The `ops.causalConv1dSilu`, `ops.gatedDeltaRule`, `ops.ssdRecurrence` and `ops.selectiveScan` bindings: the Gated
// DeltaNet kernels (native/cpu/gated_delta.h), Mamba-2's SSD recurrence (native/cpu/mamba2_mixer.h) and Mamba-1's
// selective scan (native/cpu/mamba1_mixer.h) alone, with their states passed in
// and updated in place, so tests hold them to a float64 reference.
#pragma once
#include <napi.h>

#include "../cpu/thread_pool.h"

namespace pagedllm {
void AddGatedDeltaOps(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)());
}
