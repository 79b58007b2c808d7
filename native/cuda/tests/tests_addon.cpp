// Module entry of pagedllm_cuda_tests.node, the test-only addon: kernelChecks(seed) and kernelBench() -> JSON strings
// (run by npm run test:gpu and scripts/bench-gpu.js; kept out of the production addon pagedllm.node).
#include <napi.h>

#include "kernel_bench.h"
#include "kernel_checks.h"

namespace pagedllm {
namespace {

Napi::Value KernelChecks(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "kernelChecks(seed: number)");
  try {
    return Napi::String::New(info.Env(), run_cuda_kernel_checks(info[0].As<Napi::Number>().Uint32Value()));
  } catch (const std::exception& error) {
    throw Napi::Error::New(info.Env(), error.what());
  }
}

Napi::Value KernelBench(const Napi::CallbackInfo& info) {
  try {
    return Napi::String::New(info.Env(), run_cuda_kernel_bench());
  } catch (const std::exception& error) {
    throw Napi::Error::New(info.Env(), error.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelChecks", Napi::Function::New(env, KernelChecks));
  exports.Set("kernelBench", Napi::Function::New(env, KernelBench));
  return exports;
}

}  // namespace
}  // namespace pagedllm

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified function.
static Napi::Object InitPagedllmCudaTests(Napi::Env env, Napi::Object exports) { return pagedllm::Init(env, exports); }
NODE_API_MODULE(pagedllm_cuda_tests, InitPagedllmCudaTests)
