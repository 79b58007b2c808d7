// The JS-visible model object: a loaded backend plus its async step, KV read-back and close.
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>

#include "pagedllm/backend.h"

namespace pagedllm {

// Shared by the JS object and any in-flight step, so close() during a step frees the backend afterwards.
struct LoadedBackend {
  std::unique_ptr<Backend> backend;
  CacheConfig cache;
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  std::mutex mutex;  // one step (or KV read) at a time
};

class ModelHandle : public Napi::ObjectWrap<ModelHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<LoadedBackend> loaded);
  explicit ModelHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Step(const Napi::CallbackInfo& info);
  Napi::Value ReadKvBlock(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  std::shared_ptr<LoadedBackend> require_open(Napi::Env env) const;

  std::shared_ptr<LoadedBackend> loaded_;
};

// loadModel(options) -> Promise<ModelHandle>; weights are read on a worker thread.
Napi::Value LoadModel(const Napi::CallbackInfo& info);

}  // namespace pagedllm
