// The JS sampling arrays (src/engine/native-sampling.ts encodes them) as a SampleBatch the backend can read off the
// event loop, and the sampled results back as typed arrays.
#pragma once
#include <napi.h>

#include <vector>

#include "pagedllm/sampling.h"

namespace pagedllm {

struct SamplingInput {
  std::vector<SampleSpec> specs;
  std::vector<int32_t> token_ids, bias_ids, masks, host_rows;
  std::vector<double> bias_values;
  int top_stride = 1;

  SampleBatch batch() const;
};

// Copies and checks the arrays: rows below num_rows, token ranges inside their arrays, masks of ceil(vocab / 32) words.
SamplingInput parse_sampling_input(const Napi::Object& sampling, int num_rows, int vocab);

struct SamplingResults {
  explicit SamplingResults(const SamplingInput& input);
  std::vector<int32_t> token_ids, top_counts, top_ids;
  std::vector<double> logprobs, top_logprobs;

  SampleOutputs outputs();
  // {tokenIds, logprobs, topCounts, topIds, topLogprobs} (top arrays: topStride slots per sample).
  Napi::Object to_js(Napi::Env env) const;
};

}  // namespace pagedllm
