// JS bindings of the CUDA-only helpers: cuda.kernelChecks(seed) and cuda.kernelBench() -> JSON strings,
// cuda.memoryInfo() -> free/total bytes.
#include "cuda_bindings.h"

#include "cuda_device.h"
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
  cuda.Set("kernelChecks", Napi::Function::New(env, KernelChecks));
  cuda.Set("kernelBench", Napi::Function::New(env, KernelBench));
  cuda.Set("memoryInfo", Napi::Function::New(env, MemoryInfo));
  return cuda;
}

}  // namespace pagedllm
