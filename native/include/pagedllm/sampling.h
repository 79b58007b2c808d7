// What a backend's sampler is asked (one SampleSpec per sample, rows of the step's logits) and what it answers, plus
// the counter-based generator (Philox4x32-10) every seeded draw uses, shared by the CPU and CUDA samplers.
#pragma once
#include <cstdint>

#include "pagedllm/host_device.h"

namespace pagedllm {

// One sample: penalties, bias and suppression edit a copy of the row, then greedy or temperature/top-k/top-p/min-p and
// one draw keyed by (seed, stream, position). Token lists are [begin, end) ranges of SampleBatch's arrays.
struct SampleSpec {
  int row = 0;  // index into the step's logits rows (logits_indices order); several samples may share a row
  double temperature = 1, top_p = 1, min_p = 0;
  int top_k = 0;  // <= 0: off
  double presence_penalty = 0, frequency_penalty = 0, repetition_penalty = 1;
  uint32_t seed_low = 0, seed_high = 0, stream = 0, position = 0;
  int num_logprobs = -1;  // top-N raw logprobs wanted; -1 = none
  int prompt_begin = 0, prompt_end = 0;      // token_ids: prompt (repetition penalty only)
  int output_begin = 0, output_end = 0;      // token_ids: output so far (all penalties)
  int suppress_begin = 0, suppress_end = 0;  // token_ids: tokens that must not be sampled now
  int bias_begin = 0, bias_end = 0;          // bias_ids / bias_values
  int mask_index = -1;                       // allowed-token bitmask in masks; -1 = all allowed
};

struct SampleBatch {
  int num_samples = 0;
  const SampleSpec* specs = nullptr;
  const int32_t* token_ids = nullptr;
  const int32_t* bias_ids = nullptr;
  const double* bias_values = nullptr;
  const int32_t* masks = nullptr;  // [num masks][ceil(vocab / 32)] words, bit t & 31 of word t >> 5 = token t allowed
  int top_stride = 1;              // slots per sample in the top arrays (max num_logprobs + 1)
  // Rows whose logits still go back to the host (rows sampled in JS), written compactly to the step's logits_out.
  int num_host_rows = 0;
  const int32_t* host_rows = nullptr;
};

struct SampleOutputs {
  int32_t* token_ids = nullptr;     // [num_samples]
  double* logprobs = nullptr;       // [num_samples] raw log_softmax of the chosen token
  int32_t* top_counts = nullptr;    // [num_samples] entries used in the top arrays (0 when none asked)
  int32_t* top_ids = nullptr;       // [num_samples * top_stride]: top-N by raw logprob, then the chosen one if absent
  double* top_logprobs = nullptr;   // same layout
};

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"): 10 rounds of a bijection keyed by
// 64 bits; the same (key, counter) gives the same four words on any device, in any order.
struct Philox4 {
  uint32_t v[4];
};

PAGEDLLM_HOST_DEVICE inline Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                                   uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// The uniform in [0, 1) (53 bits) of draw `position` of stream `stream` of a 64-bit seed: key = seed,
// counter = (position, stream, 0, 0). src/engine/philox.ts computes the same number.
PAGEDLLM_HOST_DEVICE inline double philox_uniform(uint32_t seed_low, uint32_t seed_high, uint32_t stream,
                                                  uint32_t position) {
  const Philox4 words = philox4x32_10(position, stream, 0, 0, seed_low, seed_high);
  const uint64_t high = words.v[0] >> 5, low = words.v[1] >> 6;
  return static_cast<double>(high * 67108864ull + low) / 9007199254740992.0;
}

}  // namespace pagedllm
