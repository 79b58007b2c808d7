// The CPU backend's sampler: one token (and the requested logprobs) per SampleSpec from rows of logits, samples
// spread over the thread pool. src/engine/sampler.ts is the reference it is tested against.
#pragma once
#include "pagedllm/sampling.h"
#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// logits: [rows, vocab]; every spec's row must be in range (checked by the caller).
void sample_rows(ThreadPool& pool, const float* logits, int vocab, const SampleBatch& batch, const SampleOutputs& out);

namespace avx2 {
// weights[i] = exp((row[i] - max) * inverse_temperature); returns their sum (in double).
double temperature_weights(const float* row, int vocab, float max, float inverse_temperature, float* weights);
}  // namespace avx2

}  // namespace cpu
}  // namespace pagedllm
