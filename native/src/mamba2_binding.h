// The `ops.ssdRecurrence` binding: the Mamba-2 SSD recurrence (native/cpu/mamba2_mixer.h) alone, its state passed in
// and updated in place, so tests hold it to a float64 reference.
#pragma once
#include <napi.h>

#include "../cpu/thread_pool.h"

namespace pagedllm {
void AddMamba2Ops(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)());
}
