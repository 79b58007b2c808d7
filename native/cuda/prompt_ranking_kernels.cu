// Prompt logprobs ranked on the device (echo / prompt_logprobs): per entry, the logprob and rank of the prompt token
// that came next and its row's top-N, by native/cpu/prompt_logprobs.cpp's definitions, so only these few numbers leave
// the GPU instead of rows x vocab floats. The log-sum-exp sums exp in double, as the CPU's row_stats does.
#include <cmath>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "row_select.cuh"

namespace pagedllm::cuda {

namespace {

// Sum over the block (double or int); scratch holds one value per warp. All threads get the result.
template <typename V>
__device__ V block_total(V value, V* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  __syncthreads();  // scratch may still be read by a previous call
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = value;
  __syncthreads();
  V total = 0;
  for (int w = 0; w < kRowThreads / 32; ++w) total += scratch[w];  // fixed order: the same bits every run
  return total;
}

// One block per entry of the chunk: entry first_entry + b reads chunk row first_row + b.
__global__ void __launch_bounds__(kRowThreads)
    rank_prompt_rows_kernel(const float* __restrict__ logits, int vocab, int first_entry, int first_row,
                            const int32_t* __restrict__ token_ids, const int32_t* __restrict__ top_ns, int top_stride,
                            PromptRanksView out) {
  __shared__ float s_values[kRowThreads];
  __shared__ int s_ids[kRowThreads];
  __shared__ double s_sums[kRowThreads / 32];
  __shared__ int s_counts[kRowThreads / 32];
  const int entry = first_entry + blockIdx.x;
  const float* row = logits + int64_t(first_row + blockIdx.x) * vocab;
  const int token = token_ids[entry];
  const float value = row[token];
  float max_value;
  int max_id;
  block_best_after(row, vocab, 0.f, 0, false, &max_value, &max_id, s_values, s_ids);
  // Rank: logits >= the token's (NaN never counts, a NaN token counts none); NaNs make the log-sum-exp NaN.
  int at_least = 0, nans = 0;
  double sum = 0;
  const bool finite_max = isfinite(max_value);
  for (int i = threadIdx.x; i < vocab; i += kRowThreads) {
    const float v = row[i];
    at_least += v >= value;
    nans += isnan(v);
    if (finite_max) sum += double(expf(v - max_value));  // the shift and exp in float, the sum in double (row_stats)
  }
  at_least = block_total(at_least, s_counts);
  nans = block_total(nans, s_counts);
  sum = block_total(sum, s_sums);
  // row_stats' rules: NaN anywhere gives NaN; a max that is not finite is its own log-sum-exp (all -inf, or +inf).
  const double lse = nans > 0 ? double(NAN) : !finite_max ? double(max_value) : double(max_value) + log(sum);
  // Top-N: the next candidate each pass (ties to the lower id), then the token when it is not among them.
  const int top_n = top_ns[entry];
  int32_t* ids = out.top_ids + int64_t(entry) * top_stride;
  double* logprobs = out.top_logprobs + int64_t(entry) * top_stride;
  int held = 0;
  bool has_token = false;
  float best_value = max_value;
  int best_id = max_id;
  for (int j = 0; j < top_n; ++j) {
    if (j > 0) block_best_after(row, vocab, best_value, best_id, true, &best_value, &best_id, s_values, s_ids);
    if (best_id == INT_MAX) break;  // fewer values than top_n that are not NaN
    if (threadIdx.x == 0) {
      ids[held] = best_id;
      logprobs[held] = double(best_value) - lse;
    }
    has_token = has_token || best_id == token;
    ++held;
  }
  if (threadIdx.x != 0) return;
  if (!has_token) {
    ids[held] = token;
    logprobs[held++] = double(value) - lse;
  }
  out.top_counts[entry] = held;
  out.logprobs[entry] = double(value) - lse;
  out.ranks[entry] = max(at_least, 1);
}

}  // namespace

void rank_prompt_rows(const float* logits, int vocab, int first_entry, int num_entries, int first_row, const int32_t* token_ids,
                      const int32_t* top_ns, int top_stride, const PromptRanksView& out, cudaStream_t stream) {
  if (num_entries == 0) return;
  rank_prompt_rows_kernel<<<num_entries, kRowThreads, 0, stream>>>(logits, vocab, first_entry, first_row, token_ids, top_ns,
                                                                   top_stride, out);
  PAGEDLLM_CUDA_CHECK_LAUNCH("rank_prompt_rows_kernel");
}

}  // namespace pagedllm::cuda
