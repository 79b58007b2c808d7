// The CPU op set (same op names as native/cuda): each op is plain data in, plain data out, so tests
// can call it alone and the backend chains them into a forward pass.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "huge_buffer.h"
#include "pagedllm/backend.h"
#include "pagedllm/sliding_window.h"  // first_visible_position
#include "thread_pool.h"

namespace pagedllm {
namespace cpu {

// ---- instruction-set dispatch ----
// True when the CPU has AVX2, FMA and F16C; the vector kernels run only then.
bool cpu_supports_avx2();
// Whether kernels use the AVX2 paths now (tests switch it off to check the portable paths).
bool avx2_enabled();
// Returns false (and changes nothing) when asked for AVX2 on a CPU without it.
bool set_avx2_enabled(bool enabled);
// The VNNI build the packed quantized prefill kernel can take on this CPU (cpu_features.cpp): AVX512-VNNI with BW
// and VL (512-bit vectors), else AVX-VNNI (256-bit), else none.
enum class VnniKind { kNone, kAvxVnni, kAvx512Vnni };
VnniKind cpu_vnni_kind();
const char* vnni_kind_name(VnniKind kind);   // "avx-vnni", "avx512-vnni", "none"
const char* vnni_kind_label(VnniKind kind);  // for reports: "avx512-vnni (zmm)", ...
// The VNNI build in use now: cpu_vnni_kind() unless set otherwise (tests compare the builds), kNone without AVX2.
VnniKind vnni_in_use();
// Returns false (and changes nothing) when asked for a build this CPU cannot run; kNone (AVX2 only) always works.
bool set_vnni_kind(VnniKind kind);
// The build of the packed float prefill GEMM (linear_panels.h): ymm (AVX2), or zmm where the CPU has AVX-512 F + VL
// and the OS saves zmm state. Both give the same outputs bit for bit.
enum class FloatPanelWidth { kAvx2, kAvx512 };
FloatPanelWidth cpu_float_panel_width();                    // the widest this CPU runs
const char* float_panel_width_name(FloatPanelWidth width);  // "avx2", "avx512"
// The build in use now: cpu_float_panel_width() unless set otherwise (tests, bench kernels), kAvx2 without AVX2.
FloatPanelWidth float_panel_width_in_use();
// Returns false (and changes nothing) when asked for AVX-512 on a CPU without it; kAvx2 always works.
bool set_float_panel_width(FloatPanelWidth width);
// The kernels in use, for start-up lines: "portable", "AVX2" or e.g. "AVX2, prefill avx512, quantized prefill avx512-vnni (zmm)".
std::string cpu_kernels_label();

// ---- weights ----
// A [rows, cols] row-major matrix (PyTorch Linear layout: rows = out features) in its storage format.
struct WeightMatrix {
  WeightFormat format = WeightFormat::F32;
  int rows = 0;
  int cols = 0;
  HugeBuffer storage;  // rows * row_stride bytes: 4- or 2-byte elements, or ggml blocks (quant_formats.h)
  size_t row_stride = 0;
  // A stack of row blocks in different block formats (Q4_K_M's v_proj at Q6_K under q/k at Q4_K), top to bottom, each
  // kept as stored: then storage is empty, format is the first block's, and linear() runs each block's own kernel
  // into its columns of y (stack_quantized() in quant_linear.h builds one).
  std::vector<WeightMatrix> segments;

  void resize(WeightFormat fmt, int num_rows, int num_cols);
  size_t bytes() const {
    size_t total = storage.size();
    for (const WeightMatrix& segment : segments) total += segment.bytes();
    return total;
  }
  const void* row_ptr(int row) const { return static_cast<const uint8_t*>(storage.data()) + static_cast<size_t>(row) * row_stride; }
  // Stores fp32 values into rows [first_row, first_row + num_rows), converting (or quantizing) to the storage format.
  void store_rows(int first_row, int num_rows, const float* values);
  // Stores rows already in the storage format (GGUF tensors), byte for byte.
  void store_raw_rows(int first_row, int num_rows, const void* raw);
  // Copies one row out as fp32 (dequantized).
  void load_row(int row, float* out) const;
};

// Converts num elements of a checkpoint dtype to fp32.
void convert_to_f32(DType dtype, const void* in, float* out, size_t num);

// ---- linear (GEMM): y[m, n] = sum_k x[m, k] * w[n, k] (+ bias[n]) ----
// kFastest: from avx2::kPackedMinRows rows on (prefill, big batches) the packed kernel, which sums in another order
// than the decode tiles, so a row's result can move in the last bits with what shares its call. kBatchInvariant: the
// decode tiles' order at every row count (bitwise the same result alone or in any batch), slower for many rows.
// Block-quantized weights take one order either way.
enum class LinearOrder { kFastest, kBatchInvariant };
void linear(ThreadPool& pool, const float* x, int num_rows, const WeightMatrix& w, const float* bias, float* y,
            LinearOrder order = LinearOrder::kFastest);

// ---- layernorm ----
// out[r] = x[r] / rms(x[r]) * weight
void rms_norm(ThreadPool& pool, const float* x, const float* weight, float* out, int num_rows, int dim, float eps);
// residual[r] += x[r]; x[r] = rms_norm(residual[r]) * weight (one pass over both, as vLLM fuses it).
void fused_add_rms_norm(ThreadPool& pool, float* x, float* residual, const float* weight, int num_rows, int dim, float eps);
// Qwen3's q/k norm: each of the first num_heads heads (head_dim floats) of each row of `x` (row stride `row_stride`)
// becomes rms_norm(head) * weight, in place; one weight [head_dim] for all heads.
void head_rms_norm(ThreadPool& pool, float* x, int num_rows, int row_stride, int num_heads, int head_dim, const float* weight,
                   float eps);

// ---- pos_encoding (rotary, HF rotate_half convention) ----
// Per-frequency inverse frequencies as HF computes them for the configured scaling; head_dim / 2 values.
std::vector<double> rope_inv_freq(const ModelConfig& config);
// Gemma 3's sliding layers: plain frequencies of rope_local_theta; empty when the model has one rope.
std::vector<double> local_rope_inv_freq(const ModelConfig& config);
// cos/sin table for the rows of one step: [num_rows, head_dim] = cos(head_dim / 2) | sin(head_dim / 2).
// Computed once per step and shared by every layer and head; both scaled by attention_factor (yarn, longrope).
void rope_cos_sin(const int32_t* positions, int num_rows, const std::vector<double>& inv_freq, float* table,
                  double attention_factor = 1.0);
// Rotates the first num_heads heads of each row of `x` (row stride `row_stride` floats) in place: the leading head_dim
// values of each head, heads head_stride apart (0: head_dim; GPT-NeoX's partial rotary turns only the first part of each).
void rotary(ThreadPool& pool, float* x, int num_rows, int row_stride, int num_heads, int head_dim, const float* cos_sin,
            int head_stride = 0);

// ---- activation ----
// gate_up[r] = [gate (dim) | up (dim)]; out[r] = silu(gate) * up.
void silu_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim);
// out[r] = gelu_tanh(gate) * up (GeGLU, Gemma's gelu_pytorch_tanh), computed as gate * sigmoid(2 * inner).
void gelu_tanh_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim);
// The gated MLP's activation as the config names it: act(gate) * up (silu_and_mul, gelu_tanh_and_mul, or a portable loop).
void gated_and_mul(ThreadPool& pool, Activation act, const float* gate_up, float* out, int num_rows, int dim);
// GPT-OSS's expert activation (transformers' GptOssExperts._apply_gate): gate clamped to at most 7, up to [-7, 7],
// out = (up + 1) * gate * sigmoid(1.702 * gate). gate_up rows: gate, then up.
void clamped_swiglu_and_mul(ThreadPool& pool, const float* gate_up, float* out, int num_rows, int dim);
// Apertus's xIELU (transformers' XIELUActivation) with one layer's learned scalars as applied: alpha_p = softplus(stored
// alpha_p), alpha_n = beta + softplus(stored alpha_n) (xielu_params). In place: x > 0 gives alpha_p x^2 + beta x, else
// (expm1(min(x, eps)) - x) alpha_n + beta x.
struct XieluParams {
  float alpha_p = 0.f, alpha_n = 0.f, beta = 0.f, eps = 0.f;
};
XieluParams xielu_params(float stored_alpha_p, float stored_alpha_n, float beta, float eps);
void xielu(ThreadPool& pool, float* x, int num_rows, int dim, const XieluParams& params);
// BitNet's AutoBitLinear input (transformers' ActQuant): each row to int8 codes by its absmax, 127 / max|x| (at least
// 1e-5), rounded half to even and clamped to [-128, 127], then back to floats, in place.
void int8_fake_quant_rows(ThreadPool& pool, float* x, int num_rows, int dim);
// Its weights (WeightQuant): round(w / mean|w|) clamped to [-1, 1], times mean|w| (at least 1e-5), over the whole tensor.
void ternarize_weights(std::vector<float>& weights);
// gelu's tanh form of one value (the portable kernels' formula), for the LayerNorm family's plain MLP.
float gelu_tanh(float x);
// One value through the activation (the plain MLP's, and the gated one's rarer activations).
float activate(float x, Activation act);

// ---- row statistics (sampling) ----
// For each row of [num_rows, vocab] logits: stats[3r] = max, stats[3r + 1] = the lowest index holding it,
// stats[3r + 2] = log(sum(exp(row))). NaN entries are skipped by max/argmax and make the log-sum-exp NaN; a row
// with no finite max has max as its log-sum-exp (-inf when all -inf, +inf when it holds +inf). Calling thread only.
void row_stats(const float* logits, int num_rows, int vocab, double* stats);

// ---- cache ----
struct KvLayout {
  int block_size = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  size_t block_floats() const { return static_cast<size_t>(block_size) * num_kv_heads * head_dim; }
};
// Writes row t's K and V heads (rows of stride `row_stride`) to slot slot_mapping[t]; -1 skips.
void reshape_and_cache(const float* key, const float* value, int row_stride, float* key_cache, float* value_cache,
                       const int32_t* slot_mapping, int num_rows, const KvLayout& layout);
// Copies whole blocks src -> dst between (possibly different) pools; pairs are (src, dst).
void copy_blocks(const float* src_pool, float* dst_pool, const int32_t* pairs, int num_pairs, const KvLayout& layout);

// ---- attention ----
// Causal attention of every query row over its sequence's cached context (read through block_tables).
// query rows have stride q_stride; out is [num_tokens, num_heads * head_dim].
struct AttentionBatch {
  int num_seqs = 0;
  const int32_t* query_start_loc = nullptr;
  const int32_t* positions = nullptr;
  const int32_t* block_tables = nullptr;
  int max_blocks_per_seq = 0;
  // Sliding-window attention: a query at position p sees keys at positions (p - sliding_window, p] (transformers'
  // kv_idx > q_idx - sliding_window); 0: every earlier key (full attention).
  int sliding_window = 0;
  // ALiBi (BLOOM, Falcon-RW, MPT): [num_heads] slopes; query head h's score for a key adds slope[h] * (key position -
  // query position), after the scale. Softmax ignores a per-row constant, so this is the models' bias by key position
  // alone, and a cached prefix or a chunk boundary cannot change it. nullptr: none.
  const float* alibi_slopes = nullptr;
  // Attention sinks (GPT-OSS): [num_heads] learned logits, one per query head, that join every row's softmax
  // denominator and contribute no value. nullptr: none (the rows' weights sum to 1).
  const float* sinks = nullptr;
  // DiffLlama: KV head h's keys are paired with value head (h + value_head_shift) % num_kv_heads (diff_attention.h); 0: its own.
  int value_head_shift = 0;
};
// What a query head's accumulated values are multiplied by at the end of the online softmax: 1 / sum, or with a sink
// 1 / (sum + exp(sink - max)), the sink's share of transformers' cat([scores, sink]).softmax() left out.
inline float softmax_normalizer(float running_sum, float running_max, const float* sinks, int head) {
  return sinks == nullptr ? 1.f / running_sum : 1.f / (running_sum + std::exp(sinks[head] - running_max));
}
void paged_attention(ThreadPool& pool, const float* query, int q_stride, const float* key_cache, const float* value_cache,
                     const AttentionBatch& batch, int num_heads, const KvLayout& layout, float scale, float* out,
                     float softcap = 0.f);
// Gemma 2's logit soft-capping: cap * tanh(x / cap). Built portable (attention.cpp) and called by the AVX2 kernel
// too, so both paths round alike.
float softcap_score(float x, float cap);
// ALiBi's bias for a key `distance` positions from its query (key - query, never positive here).
inline float alibi_bias(float slope, int distance) { return slope * static_cast<float>(distance); }
// scores[t] += alibi_bias(slope, first_distance + t) for t < count: one block's visible keys.
inline void add_alibi(float* scores, int count, float slope, int first_distance) {
  for (int t = 0; t < count; ++t) scores[t] += alibi_bias(slope, first_distance + t);
}

// ---- machine ceilings (benchmarks) ----
// Sustained read+write bandwidth of a large triad a[i] = b[i] + s * c[i], bytes moved per second.
double measure_triad_bandwidth(ThreadPool& pool, size_t bytes_per_array, int repeats);
// Sustained read bandwidth (sum of a large array), bytes per second.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats);
// Peak fp32 FMA throughput with independent register chains, FLOP per second.
double measure_peak_flops(ThreadPool& pool, double seconds);

}  // namespace cpu
}  // namespace pagedllm
