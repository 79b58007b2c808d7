// JS bindings of the CUDA-only helpers of the production addon: cuda.memoryInfo() -> free/total bytes.
#include "cuda_bindings.h"

#include "cuda_device.h"

namespace pagedllm {
namespace {

Napi::Value MemoryInfo(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  CudaMemoryInfo memory;
  std::string why;
  const bool available = cuda_memory_info(&memory, &why);
  out.Set("available", available);
  out.Set("detail", available ? "" : why);
  out.Set("freeBytes", double(memory.free_bytes));
  out.Set("totalBytes", double(memory.total_bytes));
  return out;
}

}  // namespace

Napi::Object CreateCudaBindings(Napi::Env env) {
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("memoryInfo", Napi::Function::New(env, MemoryInfo));
  return cuda;
}

}  // namespace pagedllm
