// applyTokenMask(row: Float32Array, mask: Int32Array, out: Float32Array): out = row where the mask allows, else -inf.
// Runs on the calling thread: a few microseconds per 32k row, far below the cost of a pool hand-off.
#include "token_mask_binding.h"

#include "../cpu/token_mask.h"
#include "js_convert.h"

namespace pagedllm {

namespace {
Napi::Value ApplyTokenMask(const Napi::CallbackInfo& info) {
  size_t vocab = 0;
  const float* row = js::float32_data(info[0], "row", -1, &vocab);
  const int32_t* mask = js::int32_data(info[1], "mask", static_cast<long>((vocab + 31) / 32));
  float* out = js::float32_data(info[2], "out", static_cast<long>(vocab));
  cpu::apply_token_mask(row, mask, static_cast<int>(vocab), out);
  return info.Env().Undefined();
}
}  // namespace

void AddTokenMaskOps(Napi::Env env, Napi::Object ops) {
  ops.Set("applyTokenMask", Napi::Function::New(env, ApplyTokenMask));
}

}  // namespace pagedllm
