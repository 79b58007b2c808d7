// promptLogprobs(logits, vocabSize, {rows, tokenIds, topNs}, threads?) -> Promise<{logprobs, ranks, topCounts, topIds,
// topLogprobs, topStride}>: rows of given logits ranked on a worker thread (and its helpers; by default one core fewer
// than the machine has). The engine ranks its prompt rows inside the step (Backend::step_ranked); this op lets tests
// hold the ranking to the JS reference on any logits. The logits are read in place; the caller must not write them
// until it settles. promptChunk(ownLogits, first, rows) -> {ownRows, firstEntry, numEntries, firstEntryRow}: how the
// CUDA backend splits an LM-head chunk between the step's own rows and prompt rows it ranks (pagedllm/prompt_chunks.h).
#include "prompt_logprobs_binding.h"

#include <algorithm>
#include <string>
#include <thread>

#include "../cpu/prompt_logprobs.h"
#include "js_convert.h"
#include "pagedllm/prompt_chunks.h"
#include "prompt_rows_input.h"

namespace pagedllm {

namespace {

class PromptLogprobsWorker : public Napi::AsyncWorker {
 public:
  PromptLogprobsWorker(Napi::Env env, Napi::Float32Array logits, int vocab, PromptRowsInput input, int threads)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), logits_ref_(Napi::Persistent(logits)),
        logits_(logits.Data()), vocab_(vocab), input_(std::move(input)), results_(input_), threads_(threads) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override { cpu::prompt_logprobs(logits_, vocab_, input_.asked(), results_.outputs(), threads_); }
  void OnOK() override { deferred_.Resolve(results_.to_js(Env())); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Float32Array> logits_ref_;  // keeps the logits alive while the worker reads them
  const float* logits_;
  int vocab_;
  PromptRowsInput input_;
  PromptRowsResults results_;
  int threads_;
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
  PromptRowsInput input = parse_prompt_rows(info[2].As<Napi::Object>(), static_cast<long>(length / vocab), "rows of logits", vocab, "promptLogprobs");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  int threads = std::max(cores - 1, 1);
  if (info.Length() > 3 && !info[3].IsUndefined()) {
    check(env, info[3].IsNumber() && info[3].As<Napi::Number>().Int32Value() >= 1, "threads must be a number >= 1");
    threads = info[3].As<Napi::Number>().Int32Value();
  }
  auto* worker = new PromptLogprobsWorker(env, info[0].As<Napi::Float32Array>(), vocab, std::move(input), threads);
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

Napi::Value PromptChunkPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int args[3];
  for (int i = 0; i < 3; ++i) {
    if (!info[i].IsNumber() || info[i].As<Napi::Number>().Int32Value() < 0)
      throw Napi::TypeError::New(env, "promptChunk(ownLogits, first, rows): non-negative integers");
    args[i] = info[i].As<Napi::Number>().Int32Value();
  }
  const PromptChunk chunk = plan_prompt_chunk(args[0], args[1], args[2]);
  Napi::Object result = Napi::Object::New(env);
  result.Set("ownRows", chunk.own_rows);
  result.Set("firstEntry", chunk.first_entry);
  result.Set("numEntries", chunk.num_entries);
  result.Set("firstEntryRow", chunk.first_entry_row);
  return result;
}

}  // namespace

void AddPromptLogprobOps(Napi::Env env, Napi::Object ops) {
  ops.Set("promptLogprobs", Napi::Function::New(env, PromptLogprobs));
  ops.Set("promptChunk", Napi::Function::New(env, PromptChunkPlan));
}

}  // namespace pagedllm
