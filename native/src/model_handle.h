// The JS-visible model object: a loaded backend plus its async step, KV read-back and close.
#pragma once
#include <napi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

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

  // Steps run in the order JS queued them (tickets): a step may name the samples of the step queued before it.
  std::mutex order_mutex;
  std::condition_variable turn;
  uint64_t next_ticket = 0;  // taken on the JS thread
  uint64_t now_serving = 0;
  // The previous step's backend samples, which a token id -(k + 1) in the next step stands for (empty after a failure).
  std::vector<int32_t> previous_samples;
  // Time between one step's end and the next one's start: the backend waiting for the host (bench-host-work).
  int64_t steps_run = 0;
  double busy_ms = 0, idle_ms = 0;
  std::chrono::steady_clock::time_point last_step_end;
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
  Napi::Value Timing(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  std::shared_ptr<LoadedBackend> require_open(Napi::Env env) const;

  std::shared_ptr<LoadedBackend> loaded_;
};

// loadModel(options) -> Promise<ModelHandle>; weights are read on a worker thread.
Napi::Value LoadModel(const Napi::CallbackInfo& info);

}  // namespace pagedllm
