// The `ops.promptLogprobs` binding: cpu::prompt_logprobs over a step's logits on a worker thread (a Promise).
#pragma once
#include <napi.h>

namespace pagedllm {
void AddPromptLogprobOps(Napi::Env env, Napi::Object ops);
}
