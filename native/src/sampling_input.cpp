// Parsing of the per-step sampling arrays and packing of the sampled tokens and logprobs for JS.
#include "sampling_input.h"

#include <string>

#include "js_convert.h"

namespace pagedllm {

namespace {

// Fields of one sample in the `ints` array (src/engine/native-sampling.ts writes them in this order).
enum IntField { kRow, kTopK, kNumLogprobs, kSeedLow, kSeedHigh, kStream, kPosition, kPromptBegin, kPromptEnd,
                kOutputBegin, kOutputEnd, kSuppressBegin, kSuppressEnd, kBiasBegin, kBiasEnd, kMaskIndex, kIntFields };
// Fields of one sample in the `floats` array.
enum FloatField { kTemperature, kTopP, kMinP, kPresence, kFrequency, kRepetition, kFloatFields };

template <typename T>
std::vector<T> copy_array(const Napi::Object& obj, const char* name) {
  Napi::Value value = obj.Get(name);
  if (value.IsUndefined() || value.IsNull()) return {};
  if (!value.IsTypedArray()) throw Napi::TypeError::New(obj.Env(), std::string("sampling.") + name + " must be a typed array");
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  const bool ok = sizeof(T) == 8 ? array.TypedArrayType() == napi_float64_array : array.TypedArrayType() == napi_int32_array;
  if (!ok) throw Napi::TypeError::New(obj.Env(), std::string("sampling.") + name + " has the wrong element type");
  const T* data = reinterpret_cast<const T*>(static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset());
  return std::vector<T>(data, data + array.ElementLength());
}

void check(Napi::Env env, bool ok, const std::string& message) {
  if (!ok) throw Napi::RangeError::New(env, "sampling: " + message);
}

}  // namespace

SampleBatch SamplingInput::batch() const {
  SampleBatch b;
  b.num_samples = static_cast<int>(specs.size());
  b.specs = specs.data();
  b.token_ids = token_ids.data();
  b.bias_ids = bias_ids.data();
  b.bias_values = bias_values.data();
  b.masks = masks.data();
  b.top_stride = top_stride;
  b.num_host_rows = static_cast<int>(host_rows.size());
  b.host_rows = host_rows.data();
  return b;
}

SamplingInput parse_sampling_input(const Napi::Object& sampling, int num_rows, int vocab) {
  Napi::Env env = sampling.Env();
  SamplingInput in;
  const std::vector<int32_t> ints = copy_array<int32_t>(sampling, "ints");
  const std::vector<double> floats = copy_array<double>(sampling, "floats");
  in.token_ids = copy_array<int32_t>(sampling, "tokenIds");
  in.bias_ids = copy_array<int32_t>(sampling, "biasIds");
  in.bias_values = copy_array<double>(sampling, "biasValues");
  in.masks = copy_array<int32_t>(sampling, "masks");
  in.host_rows = copy_array<int32_t>(sampling, "hostRows");
  in.top_stride = js::int_field(sampling, "topStride");
  const size_t n = ints.size() / kIntFields;
  check(env, ints.size() == n * kIntFields && floats.size() == n * kFloatFields, "ints/floats do not describe the same samples");
  check(env, in.bias_ids.size() == in.bias_values.size(), "biasIds and biasValues differ in length");
  const size_t mask_words = (static_cast<size_t>(vocab) + 31) / 32;
  check(env, in.masks.size() % mask_words == 0, "masks must hold whole ceil(vocab / 32)-word masks");
  check(env, in.top_stride >= 1 && in.top_stride <= 64, "topStride must be in [1, 64]");
  for (int32_t row : in.host_rows) check(env, row >= 0 && row < num_rows, "host row outside the step's logits rows");
  const auto range_ok = [](int32_t begin, int32_t end, size_t size) { return begin >= 0 && begin <= end && static_cast<size_t>(end) <= size; };
  in.specs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int32_t* f = ints.data() + i * kIntFields;
    const double* d = floats.data() + i * kFloatFields;
    SampleSpec& s = in.specs[i];
    s.row = f[kRow];
    s.top_k = f[kTopK];
    s.num_logprobs = f[kNumLogprobs];
    s.seed_low = static_cast<uint32_t>(f[kSeedLow]);
    s.seed_high = static_cast<uint32_t>(f[kSeedHigh]);
    s.stream = static_cast<uint32_t>(f[kStream]);
    s.position = static_cast<uint32_t>(f[kPosition]);
    s.prompt_begin = f[kPromptBegin], s.prompt_end = f[kPromptEnd];
    s.output_begin = f[kOutputBegin], s.output_end = f[kOutputEnd];
    s.suppress_begin = f[kSuppressBegin], s.suppress_end = f[kSuppressEnd];
    s.bias_begin = f[kBiasBegin], s.bias_end = f[kBiasEnd];
    s.mask_index = f[kMaskIndex];
    s.temperature = d[kTemperature], s.top_p = d[kTopP], s.min_p = d[kMinP];
    s.presence_penalty = d[kPresence], s.frequency_penalty = d[kFrequency], s.repetition_penalty = d[kRepetition];
    check(env, s.row >= 0 && s.row < num_rows, "sample row outside the step's logits rows");
    check(env, s.num_logprobs < in.top_stride, "numLogprobs does not fit topStride");
    check(env, range_ok(s.prompt_begin, s.prompt_end, in.token_ids.size()) && range_ok(s.output_begin, s.output_end, in.token_ids.size()) &&
                   range_ok(s.suppress_begin, s.suppress_end, in.token_ids.size()) && range_ok(s.bias_begin, s.bias_end, in.bias_ids.size()),
          "token range outside its array");
    check(env, s.mask_index < 0 || (static_cast<size_t>(s.mask_index) + 1) * mask_words <= in.masks.size(), "mask index out of range");
    check(env, s.temperature >= 0 && s.top_p > 0 && s.top_p <= 1 && s.min_p >= 0 && s.min_p <= 1 && s.repetition_penalty > 0,
          "sampling parameter out of range");
  }
  return in;
}

SamplingResults::SamplingResults(const SamplingInput& input)
    : token_ids(input.specs.size()), top_counts(input.specs.size()), top_ids(input.specs.size() * input.top_stride),
      logprobs(input.specs.size()), top_logprobs(input.specs.size() * input.top_stride) {}

SampleOutputs SamplingResults::outputs() {
  SampleOutputs out;
  out.token_ids = token_ids.data();
  out.logprobs = logprobs.data();
  out.top_counts = top_counts.data();
  out.top_ids = top_ids.data();
  out.top_logprobs = top_logprobs.data();
  return out;
}

Napi::Object SamplingResults::to_js(Napi::Env env) const {
  const auto int32 = [env](const std::vector<int32_t>& v) {
    Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  };
  const auto float64 = [env](const std::vector<double>& v) {
    Napi::Float64Array a = Napi::Float64Array::New(env, v.size());
    std::copy(v.begin(), v.end(), a.Data());
    return a;
  };
  Napi::Object out = Napi::Object::New(env);
  out.Set("tokenIds", int32(token_ids));
  out.Set("logprobs", float64(logprobs));
  out.Set("topCounts", int32(top_counts));
  out.Set("topIds", int32(top_ids));
  out.Set("topLogprobs", float64(top_logprobs));
  return out;
}

}  // namespace pagedllm
