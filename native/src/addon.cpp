// Module entry of pagedllm.node: model loading, build/CUDA status and the single-op `ops` object.
#include <napi.h>

#include "model_handle.h"
#include "ops_bindings.h"
#ifdef PAGEDLLM_WITH_CUDA
#include "../cuda/cuda_bindings.h"
#include "../cuda/cuda_device.h"
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
  const CudaProbe probe = probe_cuda();
  out.Set("available", probe.available);
  out.Set("detail", probe.detail);
  out.Set("error", probe.error_name);
  out.Set("driverLoadable", probe.driver_loadable);
#else
  out.Set("available", false);
  out.Set("detail", "built without CUDA");
  out.Set("error", "");
  out.Set("driverLoadable", false);
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
  // Free device memory for KV sizing (kernel checks and benchmarks live in pagedllm_cuda_tests.node).
  exports.Set("cuda", CreateCudaBindings(env));
#endif
  return exports;
}

}  // namespace
}  // namespace pagedllm

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified function.
static Napi::Object InitPagedllm(Napi::Env env, Napi::Object exports) { return pagedllm::Init(env, exports); }
NODE_API_MODULE(pagedllm, InitPagedllm)
