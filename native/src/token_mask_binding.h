// The `ops.applyTokenMask` binding (guided decoding's mask over a logits row).
#pragma once
#include <napi.h>

namespace pagedllm {
void AddTokenMaskOps(Napi::Env env, Napi::Object ops);
}
