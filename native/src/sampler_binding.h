// The `ops.sampleRows` binding: the CPU backend's sampler over JS logits (tests compare it with src/engine/sampler.ts).
#pragma once
#include <napi.h>

#include "../cpu/thread_pool.h"

namespace pagedllm {
void AddSamplerOps(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)());
}
