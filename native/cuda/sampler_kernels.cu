// Sampling kernels, one block per sample, the order of native/cpu/sampler.cpp: mask, merged edits (bias, repetition,
// frequency/presence, suppression, undone when it leaves no token) into a workspace row -> greedy argmax, or
// exp((x - max) / T) weights (NaN logits weigh 0, +inf ones share the mass) -> min-p, top-k (with ties) and top-p cuts
// found by bisection on the weights' float bits -> one Philox draw located with a block prefix sum.
// Raw max / log-sum-exp / top-N logprobs come from logits_row_stats (row_stats_kernels.cu).
#include <cfloat>
#include <climits>

#include "cuda_common.cuh"
#include "cuda_ops.h"
#include "device_sampler.h"

namespace pagedllm::cuda {

namespace {

constexpr int kThreads = 256;

struct Shared {
  double sums[kThreads];
  int counts[kThreads];
  float values[kThreads];
  int ids[kThreads];
};

// Block-wide (sum, count); every thread gets both. A fixed tree: the same bits every run.
__device__ void block_reduce(double& sum, int& count, Shared& sh) {
  sh.sums[threadIdx.x] = sum;
  sh.counts[threadIdx.x] = count;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      sh.sums[threadIdx.x] += sh.sums[threadIdx.x + stride];
      sh.counts[threadIdx.x] += sh.counts[threadIdx.x + stride];
    }
    __syncthreads();
  }
  sum = sh.sums[0];
  count = sh.counts[0];
  __syncthreads();
}

// Block-wide max and the lowest index holding it (NaN never wins).
__device__ void block_argmax(const float* row, int vocab, float& best, int& best_id, Shared& sh) {
  float value = -INFINITY;
  int id = INT_MAX;
  for (int i = threadIdx.x; i < vocab; i += kThreads)
    if (row[i] > value || (id == INT_MAX && row[i] == value)) value = row[i], id = i;
  sh.values[threadIdx.x] = value;
  sh.ids[threadIdx.x] = id;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float v = sh.values[threadIdx.x + stride];
      const int j = sh.ids[threadIdx.x + stride];
      if (v > sh.values[threadIdx.x] || (v == sh.values[threadIdx.x] && j < sh.ids[threadIdx.x])) sh.values[threadIdx.x] = v, sh.ids[threadIdx.x] = j;
    }
    __syncthreads();
  }
  best = sh.values[0];
  best_id = sh.ids[0] == INT_MAX ? 0 : sh.ids[0];
  __syncthreads();
}

// A broken model's row stays drawable: a NaN logit weighs 0, and when the max is +inf the +inf tokens weigh 1, the rest 0.
__device__ __forceinline__ uint32_t weight_bits(const float* row, int i, float max, float inverse_temperature) {
  if (max == INFINITY) return row[i] == INFINITY ? 0x3f800000u : 0u;
  const float w = __expf((row[i] - max) * inverse_temperature);
  return w == w ? __float_as_uint(w) : 0u;
}

// (count, mass) of the tokens whose weight bits are >= threshold.
__device__ void at_or_above(const float* row, int vocab, float max, float inv_t, uint32_t threshold, double& mass, int& count, Shared& sh) {
  mass = 0;
  count = 0;
  for (int i = threadIdx.x; i < vocab; i += kThreads) {
    const uint32_t bits = weight_bits(row, i, max, inv_t);
    if (bits >= threshold) mass += __uint_as_float(bits), count++;
  }
  block_reduce(mass, count, sh);
}

struct Cut {
  bool keep_all = true;
  uint32_t threshold = 0;
  int tie_take = 0;
  double kept_mass = 0;
};

// The shortest prefix of the ranking (weight desc, id asc) holding `budget` tokens (by_mass false) or mass (true):
// bisection for the largest threshold whose tokens at or above reach the budget, then the ties it needs.
__device__ Cut find_cut(const float* row, int vocab, float max, float inv_t, double budget, bool by_mass, Shared& sh) {
  double mass;
  int count;
  at_or_above(row, vocab, max, inv_t, 0, mass, count, sh);
  if ((by_mass ? mass : count) < budget) return Cut{};
  uint32_t low = 0, high = 0x7f800001u;  // (low reaches the budget, high does not)
  while (high - low > 1) {
    const uint32_t mid = low + (high - low) / 2;
    at_or_above(row, vocab, max, inv_t, mid, mass, count, sh);
    if ((by_mass ? mass : count) >= budget) low = mid;
    else high = mid;
  }
  double mass_above;
  int count_above;
  at_or_above(row, vocab, max, inv_t, low + 1, mass_above, count_above, sh);
  at_or_above(row, vocab, max, inv_t, low, mass, count, sh);
  const float tie_weight = __uint_as_float(low);
  Cut cut;
  cut.keep_all = false;
  cut.threshold = low;
  if (by_mass) {
    double kept = mass_above;
    while (cut.tie_take < count - count_above && kept < budget) kept += tie_weight, cut.tie_take++;
  } else {
    cut.tie_take = count - count_above;  // every tie of the k-th (vLLM's top-k masks only logits below the k-th)
  }
  cut.kept_mass = mass_above + cut.tie_take * double(tie_weight);
  return cut;
}

// min-p's cut: the tokens weighing at least min_p (the best weighs 1), the bound compared as native/cpu/weight_cut.cpp does.
__device__ Cut at_least(const float* row, int vocab, float max, float inv_t, double min_p, Shared& sh) {
  const float bound = float(min_p);
  Cut cut;
  cut.keep_all = false;
  cut.threshold = __float_as_uint(bound) - (double(bound) >= min_p ? 1u : 0u);
  int count;
  at_or_above(row, vocab, max, inv_t, cut.threshold + 1, cut.kept_mass, count, sh);
  return cut;
}

__device__ Cut shorter(const Cut& a, const Cut& b) {
  if (a.keep_all) return b;
  if (b.keep_all) return a;
  if (a.threshold != b.threshold) return a.threshold > b.threshold ? a : b;
  return a.tie_take <= b.tie_take ? a : b;
}

// Kept tokens in [begin, end) given how many ties lie before begin; calls fn(i, weight) for each, in id order.
template <typename Fn>
__device__ void for_kept(const float* row, int begin, int end, float max, float inv_t, const Cut& cut, int ties_before, Fn fn) {
  for (int i = begin; i < end; ++i) {
    const uint32_t bits = weight_bits(row, i, max, inv_t);
    const bool tie = !cut.keep_all && bits == cut.threshold;
    const bool in_cut = cut.keep_all || bits > cut.threshold || (tie && ties_before < cut.tie_take);
    ties_before += tie;
    const float w = __uint_as_float(bits);
    if (in_cut && w > 0) fn(i, w);
  }
}

// The token where the cumulative kept weight (in id order) first exceeds uniform * total kept weight.
__device__ int draw(const float* row, int vocab, float max, float inv_t, const Cut& cut, double uniform, Shared& sh) {
  const int chunk = (vocab + kThreads - 1) / kThreads;
  const int begin = min(vocab, int(threadIdx.x) * chunk), end = min(vocab, begin + chunk);
  int ties = 0;
  if (!cut.keep_all)
    for (int i = begin; i < end; ++i) ties += weight_bits(row, i, max, inv_t) == cut.threshold;
  sh.counts[threadIdx.x] = ties;
  __syncthreads();
  if (threadIdx.x == 0)
    for (int t = 0, before = 0; t < kThreads; ++t) {
      const int own = sh.counts[t];
      sh.counts[t] = before;
      before += own;
    }
  __syncthreads();
  double own_mass = 0;
  int last = -1;
  for_kept(row, begin, end, max, inv_t, cut, sh.counts[threadIdx.x], [&](int i, float w) { own_mass += w, last = i; });
  sh.sums[threadIdx.x] = own_mass;
  sh.ids[threadIdx.x] = last;
  __syncthreads();
  __shared__ double target;
  __shared__ int token;
  if (threadIdx.x == 0) {
    double total = 0;
    token = 0;
    for (int t = 0; t < kThreads; ++t) {
      const double own = sh.sums[t];
      sh.sums[t] = total;
      total += own;
      if (sh.ids[t] >= 0) token = sh.ids[t];  // the last kept token: rounding may leave the target above the sum
    }
    target = uniform * total;
  }
  __syncthreads();
  const double start = sh.sums[threadIdx.x];
  if (own_mass > 0 && start <= target && target < start + own_mass) {
    double cumulative = start;
    bool found = false;
    for_kept(row, begin, end, max, inv_t, cut, sh.counts[threadIdx.x], [&](int i, float w) {
      cumulative += w;
      if (!found && cumulative > target) found = true, token = i;
    });
  }
  __syncthreads();
  return token;
}

// The merged edits over the masked row, each from the raw logit (so a second call without suppression redoes them).
__device__ void apply_edits(const TokenEdit* edits, int begin, int end, const SampleSpec& s, const float* raw, const int32_t* mask, bool suppress, float* edited) {
  for (int j = begin + threadIdx.x; j < end; j += kThreads) {  // distinct ids: no two threads meet
    const TokenEdit& e = edits[j];
    const bool allowed = !mask || ((uint32_t(mask[e.id >> 5]) >> (e.id & 31)) & 1u);
    float v = float((allowed ? raw[e.id] : -INFINITY) + e.bias);
    if (e.flags & kRepeated) v = float(v > 0 ? v / s.repetition_penalty : v * s.repetition_penalty);
    if (e.count > 0) v = float(v - s.frequency_penalty * e.count - s.presence_penalty);
    edited[e.id] = suppress && (e.flags & kSuppressed) ? -INFINITY : v;
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const DeviceSampleSpec* specs, const TokenEdit* edits, const int32_t* masks, const float* logits, int vocab,
                  int first_row, int num_rows, const int32_t* row_map, const float* row_lse, const float* top_values,
                  const int32_t* top_ids, int max_logprobs, float* working, int top_stride, int32_t* out_tokens,
                  double* out_logprobs, int32_t* out_top_counts, int32_t* out_top_ids, double* out_top_logprobs) {
  __shared__ Shared sh;
  const DeviceSampleSpec& d = specs[blockIdx.x];
  const SampleSpec& s = d.spec;
  if (s.row < first_row || s.row >= first_row + num_rows) return;
  const int device_row = row_map ? row_map[s.row] : s.row - first_row;
  const float* raw = logits + int64_t(device_row) * vocab;
  const int words = (vocab + 31) / 32;
  const int32_t* mask = s.mask_index >= 0 ? masks + int64_t(s.mask_index) * words : nullptr;
  const float* row = raw;
  if (d.working_index >= 0) {
    float* edited = working + int64_t(d.working_index) * vocab;
    for (int i = threadIdx.x; i < vocab; i += kThreads)
      edited[i] = !mask || ((uint32_t(mask[i >> 5]) >> (i & 31)) & 1u) ? raw[i] : -INFINITY;
    __syncthreads();
    apply_edits(edits, d.edit_begin, d.edit_end, s, raw, mask, true, edited);
    row = edited;
  }
  float max;
  int argmax;
  block_argmax(row, vocab, max, argmax, sh);
  if (max == -INFINITY && d.working_index >= 0) {  // suppression (min_tokens) left no token: undo it
    apply_edits(edits, d.edit_begin, d.edit_end, s, raw, mask, false, working + int64_t(d.working_index) * vocab);
    block_argmax(row, vocab, max, argmax, sh);
  }
  __shared__ int token;
  if (max == -INFINITY) {  // every logit -inf or NaN: the mask's first token, else 0
    if (threadIdx.x == 0) {
      token = 0;
      for (int w = 0; w < words; ++w)
        if (mask[w] != 0) {
          const int id = w * 32 + __ffs(mask[w]) - 1;
          token = id < vocab ? id : 0;  // as native/cpu/sampler.cpp first_allowed
          break;
        }
    }
  } else if (s.temperature == 0 || s.top_k == 1) {
    if (threadIdx.x == 0) token = argmax;
  } else {
    const float inv_t = float(1 / s.temperature);
    double total;
    int count;
    at_or_above(row, vocab, max, inv_t, 0, total, count, sh);
    Cut cut;  // vLLM's order: min-p, top-k, then top-p over what they kept
    if (s.min_p > 0) cut = at_least(row, vocab, max, inv_t, s.min_p, sh);
    if (s.top_k > 0 && s.top_k < vocab) cut = shorter(cut, find_cut(row, vocab, max, inv_t, s.top_k, false, sh));
    if (s.top_p < 1) cut = shorter(cut, find_cut(row, vocab, max, inv_t, s.top_p * (cut.keep_all ? total : cut.kept_mass), true, sh));
    const int drawn = draw(row, vocab, max, inv_t, cut, philox_uniform(s.seed_low, s.seed_high, s.stream, s.position), sh);
    if (threadIdx.x == 0) token = drawn;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  const float lse = row_lse[device_row];
  out_tokens[blockIdx.x] = token;
  out_logprobs[blockIdx.x] = double(raw[token]) - lse;
  if (s.num_logprobs < 0) {
    out_top_counts[blockIdx.x] = 0;
    return;
  }
  int held = 0;
  bool has_token = false;
  for (int j = 0; j < s.num_logprobs && j < max_logprobs; ++j) {
    const int id = top_ids[int64_t(device_row) * max_logprobs + j];
    if (id < 0) break;
    out_top_ids[blockIdx.x * top_stride + held] = id;
    out_top_logprobs[blockIdx.x * top_stride + held++] = double(top_values[int64_t(device_row) * max_logprobs + j]) - lse;
    has_token = has_token || id == token;
  }
  if (!has_token) {
    out_top_ids[blockIdx.x * top_stride + held] = token;
    out_top_logprobs[blockIdx.x * top_stride + held++] = double(raw[token]) - lse;
  }
  out_top_counts[blockIdx.x] = held;
}

}  // namespace

void launch_sample_kernel(const DeviceSampleSpec* specs, int num_samples, const TokenEdit* edits, const int32_t* masks,
                          const float* logits, int vocab, int first_row, int num_rows, const int32_t* row_map,
                          const float* row_lse, const float* top_values, const int32_t* top_ids, int max_logprobs,
                          float* working, int top_stride, const SampleResultsView& out, cudaStream_t stream) {
  if (num_samples == 0) return;
  sample_kernel<<<num_samples, kThreads, 0, stream>>>(specs, edits, masks, logits, vocab, first_row, num_rows, row_map, row_lse,
                                                      top_values, top_ids, max_logprobs, working, top_stride, out.token_ids,
                                                      out.logprobs, out.top_counts, out.top_ids, out.top_logprobs);
  PAGEDLLM_CUDA_CHECK_LAUNCH("sample_kernel");
}

}  // namespace pagedllm::cuda
