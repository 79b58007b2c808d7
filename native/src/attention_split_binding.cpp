// ops.splitAttentionRows(queryStartLoc, contextLens, tilesOnly) -> {decodeRows, prefillTiles, maxDecodeKvLen}: the plan
// the CUDA backend makes each step (pagedllm/attention_split.h); ops.decodePartitions(rows, maxKvLen) and
// ops.decodeGraphKey(bucket, maxContext): the decode attention's cut and a decode graph's key
// (pagedllm/decode_partitions.h). Exposed so the CPU build's tests check them.
#include "attention_split_binding.h"

#include <algorithm>
#include <string>

#include "js_convert.h"
#include "pagedllm/attention_split.h"
#include "pagedllm/decode_partitions.h"

namespace pagedllm {

namespace {

Napi::Int32Array to_js(Napi::Env env, const std::vector<int32_t>& values) {
  Napi::Int32Array out = Napi::Int32Array::New(env, values.size());
  std::copy(values.begin(), values.end(), out.Data());
  return out;
}

Napi::Value SplitAttentionRows(const Napi::CallbackInfo& info) {
  size_t starts = 0;
  const int32_t* query_start_loc = js::int32_data(info[0], "queryStartLoc", -1, &starts);
  if (starts == 0) throw Napi::RangeError::New(info.Env(), "queryStartLoc needs at least one entry (0)");
  const long num_seqs = long(starts) - 1;
  const int32_t* context_lens = js::int32_data(info[1], "contextLens", num_seqs);
  for (long s = 0; s < num_seqs; ++s)
    if (query_start_loc[s + 1] < query_start_loc[s]) throw Napi::RangeError::New(info.Env(), "queryStartLoc must not decrease");
  const AttentionSplit split = split_attention_rows(query_start_loc, context_lens, int(num_seqs), info[2].ToBoolean().Value());
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("decodeRows", to_js(info.Env(), split.decode_rows));
  result.Set("prefillTiles", to_js(info.Env(), split.prefill_tiles));
  result.Set("maxDecodeKvLen", Napi::Number::New(info.Env(), split.max_decode_kv_len));
  return result;
}

int positive_int(const Napi::Value& value, const char* name) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  if (!(number >= 1 && number <= 1 << 24) || number != double(int(number)))
    throw Napi::RangeError::New(value.Env(), std::string(name) + " must be an integer from 1 to 2^24");
  return int(number);
}

Napi::Value DecodePartitionsOf(const Napi::CallbackInfo& info) {
  const auto cut = decode_partitions(positive_int(info[0], "rows"), positive_int(info[1], "maxKvLen"));
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("tokens", cut.tokens);
  result.Set("count", cut.count);
  return result;
}

Napi::Value DecodeGraphKeyOf(const Napi::CallbackInfo& info) {
  const DecodeGraphKey key = decode_graph_key(positive_int(info[0], "bucket"), positive_int(info[1], "maxContext"));
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("bucket", key.bucket);
  result.Set("bands", key.bands);
  result.Set("coveredTokens", key.covered_tokens());
  return result;
}

}  // namespace

void AddAttentionSplitOps(Napi::Env env, Napi::Object ops) {
  ops.Set("splitAttentionRows", Napi::Function::New(env, SplitAttentionRows));
  ops.Set("decodePartitions", Napi::Function::New(env, DecodePartitionsOf));
  ops.Set("decodeGraphKey", Napi::Function::New(env, DecodeGraphKeyOf));
}

}  // namespace pagedllm
