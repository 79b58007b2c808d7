// sampleRows(logits, numRows, vocabSize, sampling) -> {tokenIds, logprobs, topCounts, topIds, topLogprobs}: the native
// sampler on the ops pool, synchronously (the engine runs the same code inside its step, off the event loop).
#include "sampler_binding.h"

#include "../cpu/sampler.h"
#include "js_convert.h"
#include "sampling_input.h"

namespace pagedllm {

namespace {
ThreadPool& (*sampler_pool)() = nullptr;

Napi::Value SampleRows(const Napi::CallbackInfo& info) {
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsObject())
    throw Napi::TypeError::New(info.Env(), "sampleRows(logits, numRows, vocabSize, sampling)");
  const int rows = info[1].As<Napi::Number>().Int32Value(), vocab = info[2].As<Napi::Number>().Int32Value();
  if (rows < 0 || vocab < 1) throw Napi::RangeError::New(info.Env(), "numRows must be >= 0 and vocabSize >= 1");
  const float* logits = js::float32_data(info[0], "logits", static_cast<long>(rows) * vocab);
  const SamplingInput input = parse_sampling_input(info[3].As<Napi::Object>(), rows, vocab);
  SamplingResults results(input);
  cpu::sample_rows(sampler_pool(), logits, vocab, input.batch(), results.outputs());
  return results.to_js(info.Env());
}
}  // namespace

void AddSamplerOps(Napi::Env env, Napi::Object ops, ThreadPool& (*pool)()) {
  sampler_pool = pool;
  ops.Set("sampleRows", Napi::Function::New(env, SampleRows));
}

}  // namespace pagedllm
