// promptLogprobs(logits, vocabSize, {rows, tokenIds, topNs}, threads?) -> Promise<{logprobs, ranks, topCounts, topIds,
// topLogprobs, topStride}>: a long prompt's rows are ranked on a worker thread (and its helpers; by default one core
// fewer than the machine has, so the event loop keeps one to serve other streams meanwhile). The logits are read in place; the caller must not write them until it settles.
#include "prompt_logprobs_binding.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "../cpu/prompt_logprobs.h"
#include "js_convert.h"

namespace pagedllm {

namespace {

std::vector<int32_t> int32_copy(const Napi::Object& from, const char* name, long expected) {
  size_t length = 0;
  const int32_t* data = js::int32_data(from.Get(name), name, expected, &length);
  return std::vector<int32_t>(data, data + length);
}

class PromptLogprobsWorker : public Napi::AsyncWorker {
 public:
  PromptLogprobsWorker(Napi::Env env, Napi::Float32Array logits, int vocab, std::vector<int32_t> rows,
                       std::vector<int32_t> token_ids, std::vector<int32_t> top_ns, int top_stride, int threads)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), logits_ref_(Napi::Persistent(logits)),
        logits_(logits.Data()), vocab_(vocab), rows_(std::move(rows)), token_ids_(std::move(token_ids)),
        top_ns_(std::move(top_ns)), top_stride_(top_stride), threads_(threads), logprobs_(rows_.size()), ranks_(rows_.size()),
        top_counts_(rows_.size()), top_ids_(rows_.size() * top_stride), top_logprobs_(rows_.size() * top_stride) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    cpu::PromptRows rows{static_cast<int>(rows_.size()), rows_.data(), token_ids_.data(), top_ns_.data(), top_stride_};
    cpu::PromptRowsOutput out{logprobs_.data(), ranks_.data(), top_counts_.data(), top_ids_.data(), top_logprobs_.data()};
    cpu::prompt_logprobs(logits_, vocab_, rows, out, threads_);
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("logprobs", float64_array(env, logprobs_));
    result.Set("ranks", int32_array(env, ranks_));
    result.Set("topCounts", int32_array(env, top_counts_));
    result.Set("topIds", int32_array(env, top_ids_));
    result.Set("topLogprobs", float64_array(env, top_logprobs_));
    result.Set("topStride", top_stride_);
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  static Napi::Int32Array int32_array(Napi::Env env, const std::vector<int32_t>& values) {
    Napi::Int32Array array = Napi::Int32Array::New(env, values.size());
    std::copy(values.begin(), values.end(), array.Data());
    return array;
  }
  static Napi::Float64Array float64_array(Napi::Env env, const std::vector<double>& values) {
    Napi::Float64Array array = Napi::Float64Array::New(env, values.size());
    std::copy(values.begin(), values.end(), array.Data());
    return array;
  }

  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Float32Array> logits_ref_;  // keeps the logits alive while the worker reads them
  const float* logits_;
  int vocab_;
  std::vector<int32_t> rows_, token_ids_, top_ns_;
  int top_stride_, threads_;
  std::vector<double> logprobs_;
  std::vector<int32_t> ranks_, top_counts_, top_ids_;
  std::vector<double> top_logprobs_;
};

void check(Napi::Env env, bool ok, const std::string& message) {
  if (!ok) throw Napi::RangeError::New(env, "promptLogprobs: " + message);
}

Napi::Value PromptLogprobs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsObject())
    throw Napi::TypeError::New(env, "promptLogprobs(logits, vocabSize, {rows, tokenIds, topNs})");
  const int vocab = info[1].As<Napi::Number>().Int32Value();
  check(env, vocab >= 1, "vocabSize must be >= 1");
  size_t length = 0;
  js::float32_data(info[0], "logits", -1, &length);
  check(env, length % vocab == 0, "logits hold " + std::to_string(length) + " values, not whole rows of " + std::to_string(vocab));
  const long num_rows = static_cast<long>(length / vocab);
  const Napi::Object asked = info[2].As<Napi::Object>();
  std::vector<int32_t> rows = int32_copy(asked, "rows", -1);
  const long entries = static_cast<long>(rows.size());
  std::vector<int32_t> token_ids = int32_copy(asked, "tokenIds", entries);
  std::vector<int32_t> top_ns = int32_copy(asked, "topNs", entries);
  int top_stride = 1;
  for (long i = 0; i < entries; ++i) {
    check(env, rows[i] >= 0 && rows[i] < num_rows, "row " + std::to_string(rows[i]) + " is outside the " + std::to_string(num_rows) + " rows of logits");
    check(env, token_ids[i] >= 0 && token_ids[i] < vocab, "token id " + std::to_string(token_ids[i]) + " is outside the vocabulary of " + std::to_string(vocab));
    check(env, top_ns[i] >= 0 && top_ns[i] <= vocab, "topN " + std::to_string(top_ns[i]) + " must be in [0, vocabSize]");
    top_stride = std::max(top_stride, top_ns[i] + 1);
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  int threads = std::max(cores - 1, 1);
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    check(env, info[3].IsNumber() && info[3].As<Napi::Number>().Int32Value() >= 1, "threads must be a number >= 1");
    threads = info[3].As<Napi::Number>().Int32Value();
  }
  auto* worker = new PromptLogprobsWorker(env, info[0].As<Napi::Float32Array>(), vocab, std::move(rows), std::move(token_ids),
                                          std::move(top_ns), top_stride, threads);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace

void AddPromptLogprobOps(Napi::Env env, Napi::Object ops) { ops.Set("promptLogprobs", Napi::Function::New(env, PromptLogprobs)); }

}  // namespace pagedllm
