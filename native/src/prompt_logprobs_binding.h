// The `ops.promptLogprobs` binding: cpu::prompt_logprobs over given logits on a worker thread (a Promise); a test hook,
// as the engine ranks its prompt rows inside the step.
#pragma once
#include <napi.h>

namespace pagedllm {
void AddPromptLogprobOps(Napi::Env env, Napi::Object ops);
}
