// The `ops.splitAttentionRows` binding: the CUDA backend's host-side split of attention rows, callable in every build.
#pragma once
#include <napi.h>

namespace pagedllm {
void AddAttentionSplitOps(Napi::Env env, Napi::Object ops);
}
