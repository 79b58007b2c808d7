// Module entry of pagedllm.node: model loading, build/CUDA status and the single-op `ops` object.
#include <napi.h>

#include "model_handle.h"
#include "ops_bindings.h"
#ifdef PAGEDLLM_WITH_CUDA
#include "../cuda/cuda_bindings.h"
#endif

namespace pagedllm {
namespace {

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
#ifdef PAGEDLLM_WITH_CUDA
  out.Set("cuda", true);
#else
  out.Set("cuda", false);
#endif
  return out;
}

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
#ifdef PAGEDLLM_WITH_CUDA
  std::string detail;
  const bool available = cuda_device_available(&detail);
  out.Set("available", available);
  out.Set("detail", detail);
#else
  out.Set("available", false);
  out.Set("detail", "built without CUDA");
#endif
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ModelHandle::Define(env);
  exports.Set("loadModel", Napi::Function::New(env, LoadModel));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatus));
  exports.Set("ops", CreateOps(env));
#ifdef PAGEDLLM_WITH_CUDA
  // Kernel checks and benchmarks for scripts/test-gpu.js and scripts/bench-gpu.js.
  exports.Set("cuda", CreateCudaBindings(env));
#endif
  return exports;
}

}  // namespace
}  // namespace pagedllm

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified function.
static Napi::Object InitPagedllm(Napi::Env env, Napi::Object exports) { return pagedllm::Init(env, exports); }
NODE_API_MODULE(pagedllm, InitPagedllm)
