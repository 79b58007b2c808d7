// JS bindings of the CUDA-only helpers of the production addon: memoryInfo() (free/total bytes), configureGemm(), setCudaGraphs().
#include "cuda_bindings.h"

#include "cuda_device.h"
#include "decode_graphs.h"
#include "gemm.h"

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

// configureGemm({mode, cublasCandidates}) sets the GEMM of backends created from now on and answers, without
// touching a device, which library that resolves to: {cublas: path | null, detail}.
Napi::Value ConfigureGemm(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "configureGemm({mode, cublasCandidates})");
  const Napi::Object options = info[0].As<Napi::Object>();
  cuda::GemmSetting setting;
  setting.mode = options.Get("mode").ToString().Utf8Value();
  const Napi::Value list = options.Get("cublasCandidates");
  if (list.IsArray()) {
    const Napi::Array array = list.As<Napi::Array>();
    setting.cublas_candidates.clear();
    for (uint32_t i = 0; i < array.Length(); ++i) setting.cublas_candidates.push_back(array.Get(i).ToString().Utf8Value());
  }
  cuda::set_gemm_setting(setting);
  const cuda::GemmLibraryChoice choice = cuda::choose_gemm_library(setting);
  Napi::Object out = Napi::Object::New(env);
  out.Set("cublas", choice.cublas ? Napi::Value(Napi::String::New(env, choice.cublas->path)) : env.Null());
  out.Set("detail", choice.why);
  return out;
}

// setCudaGraphs(enabled): whether CUDA backends created from now on replay decode steps as graphs (--enforce-eager: no).
Napi::Value SetCudaGraphs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setCudaGraphs(enabled: boolean)");
  cuda::set_cuda_graphs_enabled(info[0].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object CreateCudaBindings(Napi::Env env) {
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("memoryInfo", Napi::Function::New(env, MemoryInfo));
  cuda.Set("configureGemm", Napi::Function::New(env, ConfigureGemm));
  cuda.Set("setCudaGraphs", Napi::Function::New(env, SetCudaGraphs));
  return cuda;
}

}  // namespace pagedllm
