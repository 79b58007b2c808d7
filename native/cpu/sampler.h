// The CPU backend's sampler: one token (and the requested logprobs) per SampleSpec from rows of logits, samples
// spread over the thread pool. src/engine/sampler.ts is the reference it is tested against.
#pragma once
#include "pagedllm/sampling.h"
#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// logits: [rows, vocab]; every spec's row must be in range (checked by the caller).
void sample_rows(ThreadPool& pool, const float* logits, int vocab, const SampleBatch& batch, const SampleOutputs& out);

// One row's top `k` raw logprobs (logit - lse; ties to the lowest id, NaN never counts), best first, then `token`'s
// when it is not among them: writes *count <= k + 1 entries to ids / logprobs.
void top_logprobs(const float* raw, int vocab, int k, int token, double lse, int32_t* ids, double* logprobs, int32_t* count);

namespace avx2 {
// weights[i] = exp((row[i] - max) * inverse_temperature); returns their sum (in double).
double temperature_weights(const float* row, int vocab, float max, float inverse_temperature, float* weights);
}  // namespace avx2

}  // namespace cpu
}  // namespace pagedllm
