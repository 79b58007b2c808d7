// Host side of the device prompt ranking (see device_prompt_ranker.h).
#include "device_prompt_ranker.h"

#include <vector>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "pagedllm/prompt_chunks.h"
#include "result_buffers.h"

namespace pagedllm::cuda {

void DevicePromptRanker::begin(const PromptRows& asked, int own_rows, int vocab, cudaStream_t stream) {
  own_rows_ = own_rows;
  num_entries_ = asked.num_rows;
  top_stride_ = asked.top_stride;
  vocab_ = vocab;
  active_ = true;
  if (num_entries_ == 0) return;
  // Token ids then top Ns, one upload.
  std::vector<int32_t> host(asked.token_ids, asked.token_ids + num_entries_);
  host.insert(host.end(), asked.top_ns, asked.top_ns + num_entries_);
  upload_vector(inputs_, host, stream);
  const ResultLayout layout(num_entries_, top_stride_);
  if (results_.bytes() < layout.bytes) results_.resize(layout.bytes);
  // Top slots past an entry's count stay 0, as in the CPU path's zeroed arrays.
  PAGEDLLM_CUDA_CHECK(cudaMemsetAsync(results_.data(), 0, layout.bytes, stream));
}

void DevicePromptRanker::rank_chunk(const float* logits, int first, int rows, cudaStream_t stream) {
  if (!active_ || num_entries_ == 0) return;
  const PromptChunk chunk = plan_prompt_chunk(own_rows_, first, rows);
  const ResultArrays arrays = result_arrays(results_, ResultLayout(num_entries_, top_stride_));
  const PromptRanksView out{arrays.logprobs, arrays.ints, arrays.counts, arrays.top_ids, arrays.top_logprobs};
  const int32_t* token_ids = inputs_.as<int32_t>();
  rank_prompt_rows(logits, vocab_, chunk.first_entry, chunk.num_entries, chunk.first_entry_row, token_ids, token_ids + num_entries_,
                   top_stride_, out, stream);
}

void DevicePromptRanker::finish(const PromptRowsOutput& out, cudaStream_t stream) {
  active_ = false;
  if (num_entries_ == 0) return;
  download_results(results_, num_entries_, top_stride_, {out.logprobs, out.ranks, out.top_counts, out.top_ids, out.top_logprobs}, stream);
}

}  // namespace pagedllm::cuda
