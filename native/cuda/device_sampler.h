// The CUDA backend's sampler: the steps of native/cpu/sampler.cpp as kernels over the step's device logits, so only
// token ids, the asked logprobs and the rows JS still samples are copied to the host.
#pragma once
#include <cuda_runtime.h>

#include <vector>

#include "cuda_memory.h"
#include "pagedllm/sampling.h"

namespace pagedllm::cuda {

// Penalties, bias and suppression of one token of one sample, merged on the host (one entry per distinct token), so
// the kernel edits each token once, in parallel and in a fixed order.
struct TokenEdit {
  int32_t id;
  double bias;    // double, added to the float logit and rounded once, as native/cpu/sampler.cpp does
  int32_t count;  // output occurrences (frequency/presence penalties), 0 when those are off
  int32_t flags;  // kRepeated: repetition penalty applies; kSuppressed: -inf
};
constexpr int32_t kRepeated = 1, kSuppressed = 2;

// One sample as the kernel reads it.
struct DeviceSampleSpec {
  SampleSpec spec;
  int edit_begin, edit_end;  // TokenEdit range
  int working_index;         // row of the edited-row workspace, -1 when the row is not edited
};

// Device pointers of the results, sample by sample (top arrays: top_stride slots each).
struct SampleResultsView {
  int32_t* token_ids;
  double* logprobs;
  int32_t* top_counts;
  int32_t* top_ids;
  double* top_logprobs;
};

// sampler_kernels.cu: one block per sample; samples whose row is outside [first_row, first_row + num_rows) are left.
void launch_sample_kernel(const DeviceSampleSpec* specs, int num_samples, const TokenEdit* edits, const int32_t* masks,
                          const float* logits, int vocab, int first_row, int num_rows, const int32_t* row_map,
                          const float* row_lse, const float* top_values, const int32_t* top_ids, int max_logprobs,
                          float* working, int top_stride, const SampleResultsView& out, cudaStream_t stream);

class DeviceSampler {
 public:
  // Copies the batch's specs, merged edits and masks to the device (once per step, before the LM head).
  void upload(const SampleBatch& batch, int vocab, cudaStream_t stream);
  // Samples the specs whose rows are logits rows [first_row, first_row + num_rows) of `logits_rows` rows at `logits`:
  // logits row r is at logits + (host_row_map ? host_row_map[r] : r - first_row) * vocab (the map: a decode graph's rows).
  void sample(const float* logits, int first_row, int num_rows, const int32_t* host_row_map, int logits_rows, cudaStream_t stream);
  // Copies the results into `out` (synchronizes the stream).
  void download(const SampleOutputs& out, cudaStream_t stream);

 private:
  int num_samples_ = 0, vocab_ = 0, top_stride_ = 1, max_logprobs_ = 0;
  std::vector<DeviceSampleSpec> host_specs_;
  DeviceMemory specs_, edits_, masks_, working_, row_stats_, results_, row_map_;
};

}  // namespace pagedllm::cuda
