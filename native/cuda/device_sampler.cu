// Host side of the CUDA sampler: merges each sample's token lists into one edit per distinct token, uploads specs,
// edits and masks, runs row stats + the sampling kernel per logits chunk, and brings the small results back.
#include <cstring>
#include <unordered_map>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "device_sampler.h"

namespace pagedllm::cuda {

namespace {

template <typename T>
void upload_vector(DeviceMemory& memory, const std::vector<T>& values, cudaStream_t stream) {
  if (values.empty()) return;
  if (memory.bytes() < values.size() * sizeof(T)) memory.resize(values.size() * sizeof(T));
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(memory.data(), values.data(), values.size() * sizeof(T), cudaMemcpyHostToDevice, stream));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));  // `values` is pageable host memory owned by the caller
}

// Offsets of the result arrays in one device buffer.
struct ResultLayout {
  size_t tokens, logprobs, counts, top_ids, top_logprobs, bytes;
  ResultLayout(int n, int stride) {
    logprobs = 0;
    top_logprobs = logprobs + size_t(n) * sizeof(double);
    tokens = top_logprobs + size_t(n) * stride * sizeof(double);
    counts = tokens + size_t(n) * sizeof(int32_t);
    top_ids = counts + size_t(n) * sizeof(int32_t);
    bytes = top_ids + size_t(n) * stride * sizeof(int32_t);
  }
};

}  // namespace

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
  char* base = results_.as<char>();
  const SampleResultsView out{reinterpret_cast<int32_t*>(base + layout.tokens), reinterpret_cast<double*>(base + layout.logprobs),
                              reinterpret_cast<int32_t*>(base + layout.counts), reinterpret_cast<int32_t*>(base + layout.top_ids),
                              reinterpret_cast<double*>(base + layout.top_logprobs)};
  launch_sample_kernel(specs_.as<DeviceSampleSpec>(), num_samples_, edits_.as<TokenEdit>(), masks_.as<int32_t>(), logits, vocab_,
                       first_row, num_rows, row_map, row_lse, top_values, top_ids, top, working_.as<float>(), top_stride_, out,
                       stream);
}

void DeviceSampler::download(const SampleOutputs& out, cudaStream_t stream) {
  if (num_samples_ == 0) return;
  const ResultLayout layout(num_samples_, top_stride_);
  std::vector<char> host(layout.bytes);
  PAGEDLLM_CUDA_CHECK(cudaMemcpyAsync(host.data(), results_.data(), layout.bytes, cudaMemcpyDeviceToHost, stream));
  PAGEDLLM_CUDA_CHECK(cudaStreamSynchronize(stream));
  const size_t n = num_samples_, slots = n * top_stride_;
  std::memcpy(out.token_ids, host.data() + layout.tokens, n * sizeof(int32_t));
  std::memcpy(out.logprobs, host.data() + layout.logprobs, n * sizeof(double));
  std::memcpy(out.top_counts, host.data() + layout.counts, n * sizeof(int32_t));
  std::memcpy(out.top_ids, host.data() + layout.top_ids, slots * sizeof(int32_t));
  std::memcpy(out.top_logprobs, host.data() + layout.top_logprobs, slots * sizeof(double));
  num_samples_ = 0;
}

}  // namespace pagedllm::cuda
