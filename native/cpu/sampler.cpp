// Native sampling over rows of logits, the same steps in the same order as src/engine/sampler.ts: allowed-token mask,
// logit_bias, repetition then frequency/presence penalties, suppression (undone if it leaves no token) -> NaN as -inf,
// +inf tokens sharing the mass -> greedy argmax, or temperature weights -> min-p -> top-k (with ties) -> top-p (of
// what they kept) -> one Philox draw. Logprobs are of the RAW row (log_softmax at
// temperature 1), as vLLM and the JS sampler report them. Samples are spread over the pool, one scratch per task.
#include "sampler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include "kernels.h"
#include "sparse_bias.h"
#include "token_mask.h"
#include "weight_cut.h"

namespace pagedllm {
namespace cpu {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Scratch {
  explicit Scratch(int vocab) : working(vocab), weights(vocab), counts(vocab, 0), stamps(vocab, 0), kept(vocab) {}
  std::vector<float> working, weights;
  std::vector<int32_t> counts, stamps, kept;
  int32_t stamp = 0;
  WeightCutFinder cuts;
};

struct Stats {
  double max, log_sum_exp;
  int argmax;
};

Stats stats_of(const float* row, int vocab) {
  double stats[3];
  row_stats(row, 1, vocab, stats);
  return Stats{stats[0], stats[2], static_cast<int>(stats[1])};
}

bool edits_row(const SampleSpec& s) {
  const bool has_output = s.output_end > s.output_begin;
  return s.mask_index >= 0 || s.bias_end > s.bias_begin || s.suppress_end > s.suppress_begin ||
         (s.repetition_penalty != 1 && (has_output || s.prompt_end > s.prompt_begin)) ||
         ((s.frequency_penalty != 0 || s.presence_penalty != 0) && has_output);
}

// Writes the edited row (mask, bias, penalties, and suppression when `suppress`) into scratch.working.
void edit_row(const float* raw, int vocab, const SampleSpec& s, const SampleBatch& b, const int32_t* mask, bool suppress, Scratch& scratch) {
  float* row = scratch.working.data();
  if (mask) apply_token_mask(raw, mask, vocab, row);
  else std::memcpy(row, raw, sizeof(float) * vocab);
  const auto in_range = [vocab](int32_t id) { return id >= 0 && id < vocab; };
  for (int j = s.bias_begin; j < s.bias_end; ++j)
    if (in_range(b.bias_ids[j])) row[b.bias_ids[j]] = biased_logit(row[b.bias_ids[j]], b.bias_values[j]);
  if (s.repetition_penalty != 1) {
    // Shrink positive logits, grow negative ones, once per distinct token of prompt + output (HF/vLLM).
    const int32_t stamp = ++scratch.stamp;
    const auto penalize = [&](int begin, int end) {
      for (int j = begin; j < end; ++j) {
        const int32_t id = b.token_ids[j];
        if (!in_range(id) || scratch.stamps[id] == stamp) continue;
        scratch.stamps[id] = stamp;
        row[id] = static_cast<float>(row[id] > 0 ? row[id] / s.repetition_penalty : row[id] * s.repetition_penalty);
      }
    };
    penalize(s.prompt_begin, s.prompt_end);
    penalize(s.output_begin, s.output_end);
  }
  if (s.frequency_penalty != 0 || s.presence_penalty != 0) {
    int32_t* counts = scratch.counts.data();
    for (int j = s.output_begin; j < s.output_end; ++j)
      if (in_range(b.token_ids[j])) counts[b.token_ids[j]]++;
    for (int j = s.output_begin; j < s.output_end; ++j) {
      const int32_t id = b.token_ids[j];
      if (!in_range(id) || counts[id] == 0) continue;  // counts are cleared as they are used
      row[id] = static_cast<float>(row[id] - s.frequency_penalty * counts[id] - s.presence_penalty);
      counts[id] = 0;
    }
  }
  for (int j = s.suppress_begin; j < s.suppress_end && suppress; ++j)
    if (in_range(b.token_ids[j])) row[b.token_ids[j]] = kNegInf;
}

// A broken model's row made drawable, in scratch.working: NaN as -inf; when some logits are +inf, those weigh 1 (logit
// 0) and the rest 0. Returns the row's new max (its argmax is unchanged).
float finite_row(const float* row, int vocab, bool infinite, float max, Scratch& scratch) {
  float* out = scratch.working.data();
  for (int i = 0; i < vocab; ++i)
    out[i] = infinite ? (row[i] == std::numeric_limits<float>::infinity() ? 0.0f : kNegInf) : std::isnan(row[i]) ? kNegInf : row[i];
  return infinite ? 0.0f : max;
}

// The row's stats after edits, when logit_bias is its only edit and the raw row is finite and NaN-free: the peak from
// the bias entries alone (sparse_bias.h); log_sum_exp stays the raw row's, only its NaN-ness being read after edits.
std::optional<Stats> bias_only_stats(const float* raw, int vocab, const SampleSpec& s, const SampleBatch& b, const Stats& raw_stats) {
  SampleSpec unbiased = s;
  unbiased.bias_end = unbiased.bias_begin;
  if (edits_row(unbiased) || !std::isfinite(raw_stats.max) || std::isnan(raw_stats.log_sum_exp)) return std::nullopt;
  const auto peak = biased_peak(raw, vocab, RowPeak{static_cast<float>(raw_stats.max), raw_stats.argmax}, b.bias_ids + s.bias_begin,
                                b.bias_values + s.bias_begin, s.bias_end - s.bias_begin);
  if (!peak) return std::nullopt;
  return Stats{peak->max, raw_stats.log_sum_exp, peak->argmax};
}

int first_allowed(const int32_t* mask, int vocab) {
  for (int w = 0; w < (vocab + 31) / 32; ++w) {
    if (mask[w] == 0) continue;
    const int id = w * 32 + __builtin_ctz(static_cast<uint32_t>(mask[w]));
    return id < vocab ? id : 0;
  }
  return 0;
}

double weights_of(const float* row, int vocab, float max, double temperature, float* weights) {
  const double inverse = 1 / temperature;
  if (avx2_enabled()) return avx2::temperature_weights(row, vocab, max, static_cast<float>(inverse), weights);
  double total = 0;
  for (int i = 0; i < vocab; ++i) total += weights[i] = std::exp((row[i] - max) * static_cast<float>(inverse));
  return total;
}

// Temperature, min-p, top-k, top-p (vLLM's order), then the token where the cumulative kept weight passes uniform * total.
int draw_token(const float* row, int vocab, const SampleSpec& s, float max, Scratch& scratch) {
  float* weights = scratch.weights.data();
  const double total = weights_of(row, vocab, max, s.temperature, weights);
  WeightCut cut;
  if (s.min_p > 0) cut = scratch.cuts.at_least(weights, vocab, s.min_p);  // the best token weighs 1
  if (s.top_k > 0 && s.top_k < vocab) cut = shorter_cut(cut, scratch.cuts.top_count(weights, vocab, s.top_k));
  if (s.top_p < 1) cut = shorter_cut(cut, scratch.cuts.top_mass(weights, vocab, s.top_p * (cut.keep_all ? total : cut.kept_mass)));
  const double uniform = philox_uniform(s.seed_low, s.seed_high, s.stream, s.position);
  if (cut.keep_all) {
    const double target = uniform * total;
    double cumulative = 0;
    int last = 0;
    for (int i = 0; i < vocab; ++i) {
      if (weights[i] == 0) continue;
      cumulative += weights[i];
      last = i;
      if (cumulative > target) return i;
    }
    return last;  // rounding left the target a hair above the sum
  }
  int32_t* kept = scratch.kept.data();
  int num_kept = 0, ties_seen = 0;
  double kept_weight = 0;
  for (int i = 0; i < vocab; ++i) {
    int32_t bits;
    std::memcpy(&bits, &weights[i], sizeof bits);
    const bool in_cut = cut.keep_all || bits > cut.threshold_bits || (bits == cut.threshold_bits && ties_seen++ < cut.tie_take);
    if (in_cut && weights[i] > 0) {
      kept[num_kept++] = i;
      kept_weight += weights[i];
    }
  }
  const double target = uniform * kept_weight;
  double cumulative = 0;
  for (int k = 0; k < num_kept; ++k) {
    cumulative += weights[kept[k]];
    if (cumulative > target) return kept[k];
  }
  return num_kept > 0 ? kept[num_kept - 1] : 0;
}

// `lazy` is the task's scratch, made on first need: plain greedy rows need none (vocab-sized buffers cost more than them).
void sample_one(const float* logits, int vocab, const SampleBatch& b, int index, const SampleOutputs& out, std::optional<Scratch>& lazy) {
  const SampleSpec& s = b.specs[index];
  const float* raw = logits + static_cast<size_t>(s.row) * vocab;
  const int32_t* mask = s.mask_index >= 0 ? b.masks + static_cast<size_t>(s.mask_index) * ((vocab + 31) / 32) : nullptr;
  const Stats raw_stats = stats_of(raw, vocab);
  const bool edited = edits_row(s);
  const bool greedy = s.temperature == 0 || s.top_k == 1;
  // A row only biased needs no pass over a biased copy for its peak, and a greedy one no copy at all.
  const std::optional<Stats> biased = edited ? bias_only_stats(raw, vocab, s, b, raw_stats) : std::nullopt;
  const bool copied = edited && !(biased && greedy);
  if ((copied || !greedy) && !lazy) lazy.emplace(vocab);
  if (copied) edit_row(raw, vocab, s, b, mask, true, *lazy);
  const float* row = copied ? lazy->working.data() : raw;
  Stats stats = biased ? *biased : edited ? stats_of(row, vocab) : raw_stats;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (stats.max == -kInf && s.suppress_end > s.suppress_begin) {
    // Suppression (min_tokens) left no token: undo it; the mask and the logits choose.
    edit_row(raw, vocab, s, b, mask, false, *lazy);
    stats = stats_of(row, vocab);
  }
  if (stats.max == kInf || std::isnan(stats.log_sum_exp)) {
    if (!lazy) lazy.emplace(vocab);
    stats.max = finite_row(row, vocab, stats.max == kInf, static_cast<float>(stats.max), *lazy);
    row = lazy->working.data();
  }
  int token;
  if (stats.max == -kInf) token = mask ? first_allowed(mask, vocab) : 0;  // every logit -inf or NaN
  else if (greedy) token = stats.argmax;
  else token = draw_token(row, vocab, s, static_cast<float>(stats.max), *lazy);
  out.token_ids[index] = token;
  out.logprobs[index] = raw[token] - raw_stats.log_sum_exp;
  const size_t top = static_cast<size_t>(index) * b.top_stride;
  if (s.num_logprobs < 0) out.top_counts[index] = 0;
  else top_logprobs(raw, vocab, s.num_logprobs, token, raw_stats.log_sum_exp, out.top_ids + top, out.top_logprobs + top, out.top_counts + index);
}

}  // namespace

// The top `k` raw logprobs (ties to the lowest id, NaN never counts), then `token`'s if it is not among them. The
// weakest kept value sits in `floor`, so a logit that does not beat it costs one compare.
void top_logprobs(const float* raw, int vocab, int k, int token, double lse, int32_t* ids, double* logprobs, int32_t* count) {
  int held = 0;
  float floor = 0;
  for (int i = 0; i < vocab && k > 0; ++i) {
    const float value = raw[i];
    if (held == k ? !(value > floor) : std::isnan(value)) continue;
    int at = held < k ? held++ : k - 1;
    while (at > 0 && raw[ids[at - 1]] < value) {
      ids[at] = ids[at - 1];
      --at;
    }
    ids[at] = i;
    floor = raw[ids[held - 1]];
  }
  bool has_token = false;
  for (int j = 0; j < held; ++j) {
    logprobs[j] = raw[ids[j]] - lse;
    has_token = has_token || ids[j] == token;
  }
  if (!has_token) {
    ids[held] = token;
    logprobs[held++] = raw[token] - lse;
  }
  *count = held;
}

void sample_rows(ThreadPool& pool, const float* logits, int vocab, const SampleBatch& batch, const SampleOutputs& out) {
  const int tasks = std::min(pool.size(), batch.num_samples);
  if (tasks <= 0) return;
  std::atomic<int> next{0};
  const auto run = [&](int) {
    std::optional<Scratch> scratch;
    for (int index = next++; index < batch.num_samples; index = next++) sample_one(logits, vocab, batch, index, out, scratch);
  };
  if (tasks == 1) run(0);
  else pool.parallel_for(tasks, run);
}

}  // namespace cpu
}  // namespace pagedllm
