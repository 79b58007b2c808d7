// Parsing of prompt-logprob entries and packing of their answers (see prompt_rows_input.h).
#include "prompt_rows_input.h"

#include <algorithm>

#include "js_convert.h"

namespace pagedllm {

namespace {

std::vector<int32_t> int32_copy(const Napi::Object& from, const char* name, long expected) {
  size_t length = 0;
  const int32_t* data = js::int32_data(from.Get(name), name, expected, &length);
  return std::vector<int32_t>(data, data + length);
}

template <typename T>
Napi::TypedArrayOf<T> typed_copy(Napi::Env env, const std::vector<T>& values) {
  Napi::TypedArrayOf<T> array = Napi::TypedArrayOf<T>::New(env, values.size());
  std::copy(values.begin(), values.end(), array.Data());
  return array;
}

}  // namespace

PromptRows PromptRowsInput::asked() const {
  return PromptRows{static_cast<int>(rows.size()), rows.data(), token_ids.data(), top_ns.data(), top_stride};
}

PromptRowsInput parse_prompt_rows(const Napi::Object& asked, long num_rows, const char* what, int vocab, const std::string& field) {
  Napi::Env env = asked.Env();
  const auto check = [&](bool ok, const std::string& message) {
    if (!ok) throw Napi::RangeError::New(env, field + ": " + message);
  };
  PromptRowsInput in;
  in.rows = int32_copy(asked, "rows", -1);
  const long entries = static_cast<long>(in.rows.size());
  in.token_ids = int32_copy(asked, "tokenIds", entries);
  in.top_ns = int32_copy(asked, "topNs", entries);
  for (long i = 0; i < entries; ++i) {
    check(in.rows[i] >= 0 && in.rows[i] < num_rows, "row " + std::to_string(in.rows[i]) + " is outside the " + std::to_string(num_rows) + " " + what);
    check(in.token_ids[i] >= 0 && in.token_ids[i] < vocab, "token id " + std::to_string(in.token_ids[i]) + " is outside the vocabulary of " + std::to_string(vocab));
    check(in.top_ns[i] >= 0 && in.top_ns[i] <= vocab, "topN " + std::to_string(in.top_ns[i]) + " must be in [0, vocabSize]");
    in.top_stride = std::max(in.top_stride, in.top_ns[i] + 1);
  }
  return in;
}

PromptRowsResults::PromptRowsResults(const PromptRowsInput& input)
    : logprobs(input.rows.size()), top_logprobs(input.rows.size() * input.top_stride), ranks(input.rows.size()),
      top_counts(input.rows.size()), top_ids(input.rows.size() * input.top_stride), top_stride(input.top_stride) {}

PromptRowsOutput PromptRowsResults::outputs() {
  return PromptRowsOutput{logprobs.data(), ranks.data(), top_counts.data(), top_ids.data(), top_logprobs.data()};
}

Napi::Object PromptRowsResults::to_js(Napi::Env env) const {
  Napi::Object result = Napi::Object::New(env);
  result.Set("logprobs", typed_copy(env, logprobs));
  result.Set("ranks", typed_copy(env, ranks));
  result.Set("topCounts", typed_copy(env, top_counts));
  result.Set("topIds", typed_copy(env, top_ids));
  result.Set("topLogprobs", typed_copy(env, top_logprobs));
  result.Set("topStride", top_stride);
  return result;
}

}  // namespace pagedllm
