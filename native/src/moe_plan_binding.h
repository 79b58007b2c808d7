// The `ops.moeSortSlots` binding: the CUDA MoE MLP's host-side order of routed slots, callable in every build.
#pragma once
#include <napi.h>

namespace pagedllm {
void AddMoePlanOps(Napi::Env env, Napi::Object ops);
}
