// ops.splitAttentionRows(queryStartLoc, contextLens, tilesOnly) -> {decodeRows, prefillTiles, maxDecodeKvLen}: the plan
// the CUDA backend makes each step (pagedllm/attention_split.h), exposed so the CPU build's tests check it.
#include "attention_split_binding.h"

#include <algorithm>

#include "js_convert.h"
#include "pagedllm/attention_split.h"

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

}  // namespace

void AddAttentionSplitOps(Napi::Env env, Napi::Object ops) { ops.Set("splitAttentionRows", Napi::Function::New(env, SplitAttentionRows)); }

}  // namespace pagedllm
