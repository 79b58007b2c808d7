// Host side of the CUDA sampler: merges each sample's token lists into one edit per distinct token, uploads specs,
// edits and masks, runs row stats + the sampling kernel per logits chunk, and brings the small results back.
#include <unordered_map>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "device_sampler.h"
#include "result_buffers.h"

namespace pagedllm::cuda {

void DeviceSampler::upload(const SampleBatch& batch, int vocab, cudaStream_t stream) {
  num_samples_ = batch.num_samples;
  vocab_ = vocab;
  top_stride_ = batch.top_stride;
  max_logprobs_ = 0;
  host_specs_.assign(num_samples_, DeviceSampleSpec{});
  std::vector<TokenEdit> edits;
  std::unordered_map<int32_t, size_t> at;
  int num_working = 0;
  for (int i = 0; i < num_samples_; ++i) {
    const SampleSpec& s = batch.specs[i];
    DeviceSampleSpec& d = host_specs_[i];
    d.spec = s;
    d.edit_begin = static_cast<int>(edits.size());
    max_logprobs_ = std::max(max_logprobs_, s.num_logprobs);
    at.clear();
    const auto edit = [&](int32_t id) -> TokenEdit* {
      if (id < 0 || id >= vocab) return nullptr;
      auto [slot, fresh] = at.emplace(id, edits.size());
      if (fresh) edits.push_back(TokenEdit{id, 0.f, 0, 0});
      return &edits[slot->second];
    };
    for (int j = s.bias_begin; j < s.bias_end; ++j)
      if (TokenEdit* e = edit(batch.bias_ids[j])) e->bias += batch.bias_values[j];
    if (s.repetition_penalty != 1) {
      for (int j = s.prompt_begin; j < s.prompt_end; ++j)
        if (TokenEdit* e = edit(batch.token_ids[j])) e->flags |= kRepeated;
      for (int j = s.output_begin; j < s.output_end; ++j)
        if (TokenEdit* e = edit(batch.token_ids[j])) e->flags |= kRepeated;
    }
    if (s.frequency_penalty != 0 || s.presence_penalty != 0)
      for (int j = s.output_begin; j < s.output_end; ++j)
        if (TokenEdit* e = edit(batch.token_ids[j])) e->count++;
    for (int j = s.suppress_begin; j < s.suppress_end; ++j)
      if (TokenEdit* e = edit(batch.token_ids[j])) e->flags |= kSuppressed;
    d.edit_end = static_cast<int>(edits.size());
    d.working_index = (d.edit_end > d.edit_begin || s.mask_index >= 0) ? num_working++ : -1;
  }
  upload_vector(specs_, host_specs_, stream);
  upload_vector(edits_, edits, stream);
  const size_t num_mask_words = batch.num_samples == 0 ? 0 : [&] {
    int masks = 0;
    for (int i = 0; i < num_samples_; ++i) masks = std::max(masks, batch.specs[i].mask_index + 1);
    return size_t(masks) * ((vocab + 31) / 32);
  }();
  upload_vector(masks_, std::vector<int32_t>(batch.masks, batch.masks + num_mask_words), stream);
  const size_t working_bytes = size_t(num_working) * vocab * sizeof(float);
  if (working_.bytes() < working_bytes) working_.resize(working_bytes);
  const ResultLayout layout(num_samples_, top_stride_);
  if (results_.bytes() < layout.bytes) results_.resize(layout.bytes);
}

void DeviceSampler::sample(const float* logits, int first_row, int num_rows, const int32_t* host_row_map, int logits_rows, cudaStream_t stream) {
  if (num_samples_ == 0 || num_rows == 0) return;
  const int32_t* row_map = nullptr;
  if (host_row_map) {
    upload_vector(row_map_, std::vector<int32_t>(host_row_map, host_row_map + first_row + num_rows), stream);
    row_map = row_map_.as<int32_t>();
  }
  // Raw max, log-sum-exp and top-N of every row in reach: the logprobs every sample reports.
  const int top = max_logprobs_;
  const size_t stats_bytes = size_t(logits_rows) * (3 + 2 * size_t(top)) * sizeof(float);
  if (row_stats_.bytes() < stats_bytes) row_stats_.resize(stats_bytes);
  float* row_max = row_stats_.as<float>();
  int32_t* row_argmax = reinterpret_cast<int32_t*>(row_max + logits_rows);
  float* row_lse = row_max + 2 * size_t(logits_rows);
  float* top_values = row_max + 3 * size_t(logits_rows);
  int32_t* top_ids = reinterpret_cast<int32_t*>(top_values + size_t(logits_rows) * top);
  logits_row_stats(logits, logits_rows, vocab_, top, row_max, row_argmax, row_lse, top_values, top_ids, stream);
  const ResultLayout layout(num_samples_, top_stride_);
  const ResultArrays arrays = result_arrays(results_, layout);
  const SampleResultsView out{arrays.ints, arrays.logprobs, arrays.counts, arrays.top_ids, arrays.top_logprobs};
  launch_sample_kernel(specs_.as<DeviceSampleSpec>(), num_samples_, edits_.as<TokenEdit>(), masks_.as<int32_t>(), logits, vocab_,
                       first_row, num_rows, row_map, row_lse, top_values, top_ids, top, working_.as<float>(), top_stride_, out,
                       stream);
}

void DeviceSampler::download(const SampleOutputs& out, cudaStream_t stream) {
  if (num_samples_ == 0) return;
  download_results(results_, num_samples_, top_stride_, {out.logprobs, out.token_ids, out.top_counts, out.top_ids, out.top_logprobs}, stream);
  num_samples_ = 0;
}

}  // namespace pagedllm::cuda
