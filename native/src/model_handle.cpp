// Model loading and stepping off the event loop (Napi::AsyncWorker), with logits handed to JS zero-copy. Steps run in
// the order they were queued; a step given sampling arrays samples in the backend and hands back tokens, logprobs
// and only the logits rows JS still samples; one given prompt rows ranks them and hands back only their answers.
#include "model_handle.h"

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "js_convert.h"
#include "prompt_rows_input.h"
#include "ranked_step.h"
#include "sampling_input.h"

namespace pagedllm {

namespace {

struct AddonData {
  Napi::FunctionReference model_constructor;
};

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, BackendOptions options, bool use_cuda)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), options_(std::move(options)),
        use_cuda_(use_cuda) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      auto loaded = std::make_shared<LoadedBackend>();
      if (use_cuda_) {
#ifdef PAGEDLLM_WITH_CUDA
        std::string why;
        loaded->backend = make_cuda_backend(options_, &why);
        if (!loaded->backend) throw std::runtime_error("CUDA backend unavailable: " + why);
#else
        throw std::runtime_error("device 'cuda' requested, but this build of pagedllm has no CUDA kernels");
#endif
      } else {
        loaded->backend = make_cpu_backend(options_);
      }
      loaded->cache = options_.cache;
      loaded->num_layers = options_.model.num_layers;
      loaded->num_kv_heads = options_.model.num_kv_heads;
      loaded->head_dim = options_.model.head_dim;
      loaded->vocab_size = options_.model.vocab_size;
      options_.tensors.clear();
      loaded_ = std::move(loaded);
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(ModelHandle::Wrap(Env(), loaded_)); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  BackendOptions options_;
  bool use_cuda_;
  std::shared_ptr<LoadedBackend> loaded_;
};

// The step's inputs, copied out of the JS arrays (they are small) so the worker owns them.
struct StepInput {
  std::vector<int32_t> copies, swap_out, swap_in, state_copies;
  std::vector<int32_t> token_ids, positions, slot_mapping, query_start_loc, context_lens, block_tables, logits_indices, state_slots;
  int max_blocks_per_seq = 0;
  std::optional<SamplingInput> sampling;
  std::optional<PromptRowsInput> prompt_rows;

  BlockMoves moves() const {
    BlockMoves m;
    m.num_copies = static_cast<int>(copies.size() / 2);
    m.copy_pairs = copies.data();
    m.num_swap_out = static_cast<int>(swap_out.size() / 2);
    m.swap_out_pairs = swap_out.data();
    m.num_swap_in = static_cast<int>(swap_in.size() / 2);
    m.swap_in_pairs = swap_in.data();
    m.num_state_copies = static_cast<int>(state_copies.size() / 2);
    m.state_copy_pairs = state_copies.data();
    return m;
  }
  ForwardBatch batch() const {
    ForwardBatch b;
    b.num_tokens = static_cast<int>(token_ids.size());
    b.num_seqs = static_cast<int>(query_start_loc.size()) - 1;
    b.max_blocks_per_seq = max_blocks_per_seq;
    b.token_ids = token_ids.data();
    b.positions = positions.data();
    b.slot_mapping = slot_mapping.data();
    b.query_start_loc = query_start_loc.data();
    b.context_lens = context_lens.data();
    b.block_tables = block_tables.data();
    b.num_logits = static_cast<int>(logits_indices.size());
    b.logits_indices = logits_indices.data();
    b.state_slots = state_slots.empty() ? nullptr : state_slots.data();
    return b;
  }
};

std::vector<int32_t> copy_int32(const Napi::Value& value, const char* name, long expected = -1) {
  size_t length = 0;
  const int32_t* data = js::int32_data(value, name, expected, &length);
  return std::vector<int32_t>(data, data + length);
}

std::vector<int32_t> copy_pairs(const Napi::Object& moves, const char* name) {
  Napi::Value value = moves.Get(name);
  if (value.IsUndefined() || value.IsNull()) return {};
  std::vector<int32_t> pairs = copy_int32(value, name);
  if (pairs.size() % 2 != 0) throw Napi::TypeError::New(moves.Env(), std::string(name) + " must hold (from, to) pairs");
  return pairs;
}

StepInput parse_step_input(const Napi::Object& moves, const Napi::Object& batch, const Napi::Value& sampling,
                           const Napi::Value& prompt_rows, int vocab) {
  StepInput in;
  in.copies = copy_pairs(moves, "copies");
  in.swap_out = copy_pairs(moves, "swapOut");
  in.swap_in = copy_pairs(moves, "swapIn");
  in.state_copies = copy_pairs(moves, "stateCopies");
  in.token_ids = copy_int32(batch.Get("tokenIds"), "tokenIds");
  const long tokens = static_cast<long>(in.token_ids.size());
  in.positions = copy_int32(batch.Get("positions"), "positions", tokens);
  in.slot_mapping = copy_int32(batch.Get("slotMapping"), "slotMapping", tokens);
  in.query_start_loc = copy_int32(batch.Get("queryStartLoc"), "queryStartLoc");
  if (in.query_start_loc.empty()) throw Napi::TypeError::New(batch.Env(), "queryStartLoc must have numSeqs + 1 elements");
  const long seqs = static_cast<long>(in.query_start_loc.size()) - 1;
  in.context_lens = copy_int32(batch.Get("contextLens"), "contextLens", seqs);
  in.max_blocks_per_seq = js::int_field(batch, "maxBlocksPerSeq");
  in.block_tables = copy_int32(batch.Get("blockTables"), "blockTables", seqs * in.max_blocks_per_seq);
  in.logits_indices = copy_int32(batch.Get("logitsIndices"), "logitsIndices");
  const Napi::Value state_slots = batch.Get("stateSlots");
  if (!state_slots.IsUndefined() && !state_slots.IsNull()) in.state_slots = copy_int32(state_slots, "stateSlots", seqs);
  if (sampling.IsObject()) in.sampling = parse_sampling_input(sampling.As<Napi::Object>(), static_cast<int>(in.logits_indices.size()), vocab);
  if (prompt_rows.IsObject()) in.prompt_rows = parse_prompt_rows(prompt_rows.As<Napi::Object>(), tokens, "tokens of the batch", vocab, "promptLogprobs");
  return in;
}

// Token ids -(k + 1) stand for sample k of the previous step (async scheduling: the step was queued before that
// sample was known); replaced here, on the worker, once that step has run.
void resolve_sample_references(std::vector<int32_t>& ids, const std::vector<int32_t>& previous) {
  for (int32_t& id : ids) {
    if (id >= 0) continue;
    const size_t k = static_cast<size_t>(-(static_cast<int64_t>(id) + 1));
    if (k >= previous.size()) {
      throw std::runtime_error("token id " + std::to_string(id) + " names sample " + std::to_string(k) + " of the previous step, which made " +
                               std::to_string(previous.size()) + " (or failed)");
    }
    id = previous[k];
  }
}

// Waits for a step's turn (its ticket) and hands the turn on when it goes out of scope, whatever happened.
class StepTurn {
 public:
  StepTurn(LoadedBackend& loaded, uint64_t ticket) : loaded_(loaded), lock_(loaded.order_mutex) {
    loaded_.turn.wait(lock_, [&] { return loaded_.now_serving == ticket; });
    started_ = std::chrono::steady_clock::now();
    if (loaded_.steps_run > 0) loaded_.idle_ms += std::chrono::duration<double, std::milli>(started_ - loaded_.last_step_end).count();
    lock_.unlock();
  }
  ~StepTurn() {
    lock_.lock();
    loaded_.last_step_end = std::chrono::steady_clock::now();
    loaded_.busy_ms += std::chrono::duration<double, std::milli>(loaded_.last_step_end - started_).count();
    loaded_.steps_run++;
    loaded_.now_serving++;
    lock_.unlock();
    loaded_.turn.notify_all();
  }

 private:
  LoadedBackend& loaded_;
  std::unique_lock<std::mutex> lock_;
  std::chrono::steady_clock::time_point started_;
};

class StepWorker : public Napi::AsyncWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<LoadedBackend> loaded, StepInput input)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), loaded_(std::move(loaded)),
        input_(std::move(input)), ticket_(loaded_->next_ticket++) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    StepTurn turn(*loaded_, ticket_);
    // Only the step holding the turn touches previous_samples.
    std::vector<int32_t>& previous = loaded_->previous_samples;
    try {
      resolve_sample_references(input_.token_ids, previous);
      if (input_.sampling) resolve_sample_references(input_.sampling->token_ids, previous);
      const size_t rows = input_.sampling ? input_.sampling->host_rows.size() : input_.logits_indices.size();
      logits_ = std::make_unique<std::vector<float>>(rows * static_cast<size_t>(loaded_->vocab_size));
      SampleBatch sampling;
      SampleOutputs sampled;
      if (input_.sampling) {
        results_.emplace(*input_.sampling);
        sampling = input_.sampling->batch();
        sampled = results_->outputs();
      }
      const SampleBatch* sampling_ptr = input_.sampling ? &sampling : nullptr;
      const SampleOutputs* sampled_ptr = input_.sampling ? &sampled : nullptr;
      std::lock_guard<std::mutex> lock(loaded_->mutex);
      if (input_.prompt_rows) {
        ranked_.emplace(*input_.prompt_rows);
        const PromptRanking ranking{input_.prompt_rows->asked(), ranked_->outputs()};
        run_ranked_step(*loaded_->backend, loaded_->vocab_size, input_.moves(), input_.batch(), logits_->data(), sampling_ptr, sampled_ptr, ranking);
      } else {
        loaded_->backend->step(input_.moves(), input_.batch(), logits_->data(), sampling_ptr, sampled_ptr);
      }
      previous = results_ ? results_->token_ids : std::vector<int32_t>();
    } catch (const std::exception& e) {
      previous.clear();
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    std::vector<float>* logits = logits_.release();
    const size_t count = logits->size();
    // An external buffer: JS sees the worker's vector directly; the finalizer frees it.
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, logits->data(), count * sizeof(float),
                                                      [](Napi::Env, void*, std::vector<float>* owned) { delete owned; },
                                                      logits);
    Napi::Float32Array array = Napi::Float32Array::New(env, count, buffer, 0);
    if (!results_ && !ranked_) return deferred_.Resolve(array);
    Napi::Object out = Napi::Object::New(env);
    out.Set("logits", array);
    if (results_) out.Set("sampled", results_->to_js(env));
    if (ranked_) out.Set("promptLogprobs", ranked_->to_js(env));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<LoadedBackend> loaded_;
  StepInput input_;
  std::unique_ptr<std::vector<float>> logits_;
  std::optional<SamplingResults> results_;
  std::optional<PromptRowsResults> ranked_;
  uint64_t ticket_;
};

}  // namespace

Napi::Function ModelHandle::Define(Napi::Env env) {
  Napi::Function constructor = DefineClass(env, "NativeModelHandle",
                                           {InstanceMethod<&ModelHandle::Info>("info"),
                                            InstanceMethod<&ModelHandle::Step>("step"),
                                            InstanceMethod<&ModelHandle::ReadKvBlock>("readKvBlock"),
                                            InstanceMethod<&ModelHandle::Timing>("timing"),
                                            InstanceMethod<&ModelHandle::Close>("close")});
  auto* data = new AddonData();
  data->model_constructor = Napi::Persistent(constructor);
  env.SetInstanceData(data);
  return constructor;
}

Napi::Object ModelHandle::Wrap(Napi::Env env, std::shared_ptr<LoadedBackend> loaded) {
  auto* holder = new std::shared_ptr<LoadedBackend>(std::move(loaded));
  Napi::External<std::shared_ptr<LoadedBackend>> external = Napi::External<std::shared_ptr<LoadedBackend>>::New(
      env, holder, [](Napi::Env, std::shared_ptr<LoadedBackend>* p) { delete p; });
  return env.GetInstanceData<AddonData>()->model_constructor.New({external});
}

ModelHandle::ModelHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelHandle>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeModelHandle is created by loadModel()");
  }
  loaded_ = *info[0].As<Napi::External<std::shared_ptr<LoadedBackend>>>().Data();
}

std::shared_ptr<LoadedBackend> ModelHandle::require_open(Napi::Env env) const {
  if (!loaded_) throw Napi::Error::New(env, "the native model is closed");
  return loaded_;
}

Napi::Value ModelHandle::Info(const Napi::CallbackInfo& info) {
  auto loaded = require_open(info.Env());
  BackendInfo details = loaded->backend->info();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("backend", details.name);
  out.Set("deviceName", details.device_name);
  out.Set("threads", details.num_threads);
  out.Set("weightBytes", static_cast<double>(details.weight_bytes));
  out.Set("kvBytesPerBlock", static_cast<double>(details.kv_bytes_per_block));
  out.Set("numBlocks", loaded->cache.num_blocks);
  out.Set("blockSize", loaded->cache.block_size);
  out.Set("numSwapBlocks", loaded->cache.num_swap_blocks);
  out.Set("vocabSize", loaded->vocab_size);
  return out;
}

Napi::Value ModelHandle::Step(const Napi::CallbackInfo& info) {
  auto loaded = require_open(info.Env());
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) {
    throw Napi::TypeError::New(info.Env(), "step(moves, batch[, sampling[, promptLogprobs]]) expects objects");
  }
  auto* worker = new StepWorker(info.Env(), loaded,
                                parse_step_input(info[0].As<Napi::Object>(), info[1].As<Napi::Object>(), info[2], info[3], loaded->vocab_size));
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value ModelHandle::ReadKvBlock(const Napi::CallbackInfo& info) {
  auto loaded = require_open(info.Env());
  const int layer = info[0].As<Napi::Number>().Int32Value();
  const int block = info[1].As<Napi::Number>().Int32Value();
  const bool from_swap = info.Length() > 2 && info[2].ToBoolean().Value();
  const size_t floats = static_cast<size_t>(loaded->cache.block_size) * loaded->num_kv_heads * loaded->head_dim;
  Napi::Float32Array k = Napi::Float32Array::New(info.Env(), floats);
  Napi::Float32Array v = Napi::Float32Array::New(info.Env(), floats);
  {
    std::lock_guard<std::mutex> lock(loaded->mutex);
    loaded->backend->read_kv_block(layer, block, from_swap, k.Data(), v.Data());
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("k", k);
  out.Set("v", v);
  return out;
}

Napi::Value ModelHandle::Timing(const Napi::CallbackInfo& info) {
  auto loaded = require_open(info.Env());
  std::lock_guard<std::mutex> lock(loaded->order_mutex);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("steps", static_cast<double>(loaded->steps_run));
  out.Set("busyMs", loaded->busy_ms);
  out.Set("idleMs", loaded->idle_ms);
  return out;
}

void ModelHandle::Close(const Napi::CallbackInfo&) { loaded_.reset(); }

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "loadModel(options) expects an object");
  Napi::Object opts = info[0].As<Napi::Object>();
  BackendOptions options;
  options.model = js::parse_model_config(opts.Get("config").As<Napi::Object>());
  options.tensors = js::parse_tensors(opts.Get("tensors").As<Napi::Array>());
  options.cache.num_blocks = js::int_field(opts, "numBlocks");
  options.cache.block_size = js::int_field(opts, "blockSize");
  options.cache.num_swap_blocks = js::int_field(opts, "numSwapBlocks");
  if (!opts.Get("numStateSlots").IsUndefined()) options.cache.num_state_slots = js::int_field(opts, "numStateSlots");
  options.weight_format = js::parse_weight_format(js::string_field(opts, "weightFormat"));
  options.num_threads = js::int_field(opts, "threads");
  const Napi::Value batch_invariant = opts.Get("batchInvariant");
  options.batch_invariant = batch_invariant.IsBoolean() && batch_invariant.As<Napi::Boolean>().Value();
  const std::string device = js::string_field(opts, "device");
  if (device != "cpu" && device != "cuda") throw Napi::TypeError::New(env, "device must be 'cpu' or 'cuda'");
  auto* worker = new LoadWorker(env, std::move(options), device == "cuda");
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace pagedllm
