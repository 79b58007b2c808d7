// Host-side launchers of the CUDA kernels (one .cu per op family, same names as native/cpu/), used by the backend and the kernel checks.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pagedllm/attention_split.h"
#include "pagedllm/backend.h"

namespace pagedllm::cuda {

// KV pool layout, block-major: block b holds, for each layer, K then V as [block_size, num_kv_heads, head_dim].
// Block-major keeps one block of all layers contiguous, so a swap is one memcpy and copy_blocks one launch.
struct KvLayout {
  int num_layers = 0;
  int block_size = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  size_t block_elems() const { return size_t(block_size) * num_kv_heads * head_dim; }  // one layer's K (or V)
  size_t block_stride() const { return size_t(num_layers) * 2 * block_elems(); }      // one whole block
  size_t key_offset(int layer) const { return size_t(2 * layer) * block_elems(); }
  size_t value_offset(int layer) const { return size_t(2 * layer + 1) * block_elems(); }
};

// embedding_kernels.cu: out[t, :] = table[token_ids[t], :] as fp32, times `scale` (Gemma's sqrt(hidden), in fp32 as on the CPU).
template <typename T>
void embedding_lookup(const T* table, const int32_t* token_ids, int num_tokens, int hidden, float* out, cudaStream_t stream,
                      float scale = 1.f);

// layernorm_kernels.cu. rms_norm: out[r] = x[src] / rms(x[src]) * weight with src = row_indices ? row_indices[r] : r.
// Weights are fp32 (Gemma's 1 + weight added at load); out is a GEMM input (bf16/fp16) or fp32 (Gemma 2's sandwich
// norms on a sublayer's output, x and out distinct).
template <typename T>
void rms_norm(const float* x, const int32_t* row_indices, int num_rows, int hidden, const float* weight, float eps, T* out,
              cudaStream_t stream);
// fused_add_rms_norm: residual[src] += delta[src], then out[r] = rms_norm(residual[src]) in the same pass
// (src as above: the final norm gathers only the rows whose logits are wanted; gathered sums are not written back).
template <typename T>
void fused_add_rms_norm(float* residual, const float* delta, const int32_t* row_indices, int num_rows, int hidden, const float* weight, float eps, T* out,
                        cudaStream_t stream);

// head_norm_kernels.cu. Qwen3's q/k norm: each q head [0, num_heads) and the k heads after it become
// rms_norm(head) * weight (q_weight / k_weight, fp32 [head_dim]) in place.
void head_rms_norm(float* qkv, int row_stride, int num_tokens, int num_heads, int num_kv_heads, int head_dim,
                   const float* q_weight, const float* k_weight, float eps, cudaStream_t stream);

// pos_encoding_kernels.cu. Inverse frequencies with the model's rope scaling (none, linear, llama3, divisors), on the host;
// cos and sin are multiplied by attention_factor (yarn, longrope).
std::vector<float> rope_inv_freq(const ModelConfig& model);
// Rotates q heads [0, num_heads) and k heads after them in place (HF rotate_half: pairs (i, i + rotary_dim/2)) over
// each head's first rotary_dim values (0: the whole head; Phi-3's partial rotary turns fewer, inv_freq then has
// rotary_dim / 2 entries: rope_inv_freq reads model.rotary_dim).
void rotary_embedding(float* qkv, int row_stride, const int32_t* positions, int num_tokens, int num_heads, int num_kv_heads,
                      int head_dim, const float* inv_freq, cudaStream_t stream, float attention_factor = 1.f, int rotary_dim = 0);

// activation_kernels.cu: gate_up rows are [gate(inter), up(inter)]; out = act(gate) * up: silu (SwiGLU), gelu's tanh
// form (Gemma's GeGLU, gelu_pytorch_tanh), relu or gelu's exact erf form, as native/cpu/activation.cpp.
template <typename T>
void gated_and_mul(Activation act, const float* gate_up, int num_tokens, int inter, T* out, cudaStream_t stream);

// softcap_kernels.cu: x = cap * tanh(x / cap) over `count` floats (Gemma 2's final logit soft-capping; cap > 0).
void softcap_values(float* x, size_t count, float cap, cudaStream_t stream);

// rms_variant_kernels.cu. x *= factor over `count` floats (Granite's residual_multiplier and 1 / logits_scaling).
void scale_values(float* x, size_t count, float factor, cudaStream_t stream);
// OLMo2's residual add with no norm after it: residual += delta (delta null: nothing to add), out = residual as a GEMM input.
template <typename T>
void add_to_residual(float* residual, const float* delta, size_t count, T* out, cudaStream_t stream);

// cache_kernels.cu. Writes row t's K (columns k_col..) and V (v_col..) of qkv into slot slot_mapping[t] of `layer`.
template <typename T>
void reshape_and_cache(const float* qkv, int row_stride, int k_col, int v_col, const int32_t* slot_mapping, int num_tokens,
                       T* pool, const KvLayout& layout, int layer, cudaStream_t stream);
// Copies whole blocks (every layer, K and V) for each (src, dst) pair in device memory.
template <typename T>
void copy_blocks(T* pool, const int32_t* pairs, int num_pairs, const KvLayout& layout, cudaStream_t stream);

// attention_kernels.cu. Row r (a query token) of sequence row_seq[r] attends to its first row_kv_len[r] cached
// tokens through that sequence's block table: decode rows and prefill rows (causal) alike.
// With `split` set (the backend always sets it), decode rows (sequences with one query row) run through the per-row
// kernel by index and prefill chunks through the tiled kernel (prefill_attention_kernels.cu), whose tiles are
// (first row, row count) pairs; the partition workspace then holds decode rows only. Without it every row takes the
// per-row kernel (the kernel checks run both ways).
struct AttentionRows {
  int num_rows = 0;
  int max_kv_len = 0;
  const int32_t* row_seq = nullptr;
  const int32_t* row_kv_len = nullptr;
  const int32_t* block_tables = nullptr;
  int max_blocks_per_seq = 0;
  bool split = false;
  const int32_t* decode_rows = nullptr;
  int num_decode_rows = 0;
  int max_decode_kv_len = 0;
  const int32_t* prefill_tiles = nullptr;
  int num_prefill_tiles = 0;
  // Gemma 2: every score (q.k * scale) becomes softcap * tanh(score / softcap) before the softmax; 0: none.
  float softcap = 0.f;
  // This layer's sliding window: row r sees only its last `window` tokens (pagedllm/sliding_window.h); the kernels
  // never read a block or partition wholly before that (released blocks are -1 in the table). 0: every token.
  int window = 0;
  // ALiBi (BLOOM, MPT, Falcon-RW): [num_heads] slopes on the device; key t of a row at position p scores + slope * (t - p)
  // after the soft-cap, as native/cpu/attention.cpp; null: none.
  const float* alibi_slopes = nullptr;
};
// The host side of the split (decode rows, prefill tiles: split_attention_rows) is in pagedllm/attention_split.h.
// The LM head runs this many logits rows at a time (src/engine/gpu-memory.ts CUDA_LOGITS_CHUNK_ROWS), so prompt
// logprobs (a row per prompt token) never grow the scratch beyond the activation reserve sized before the KV pool.
constexpr int kLogitsChunkRows = 256;
size_t paged_attention_workspace_bytes(int num_rows, int num_heads, int head_dim, int max_kv_len);
constexpr int kMaxAttentionHeadDim = 256;
// Workspace: paged_attention_workspace_bytes(split ? num_decode_rows : num_rows, heads, head_dim,
// split ? max_decode_kv_len : max_kv_len).
template <typename T>
void paged_attention(const float* qkv, int row_stride, int num_heads, const T* pool, const KvLayout& layout, int layer,
                     float scale, const AttentionRows& rows, float* workspace, T* out, cudaStream_t stream);
// prefill_attention_kernels.cu: the tiled kernel over rows.prefill_tiles (paged_attention calls it when split).
template <typename T>
void prefill_attention(const float* qkv, int row_stride, int num_heads, const T* pool, const KvLayout& layout, int layer,
                       float scale, const AttentionRows& rows, T* out, cudaStream_t stream);

// linear_kernels.cu: y[M, N] = x[M, K] * w[N, K]^T (+ bias[N]); WMMA tensor cores, fp32 accumulation. Split-K
// (decode) needs split_workspace of linear_split_workspace_floats(M, N, K, num_sms) floats (0: no split, may be null).
size_t linear_split_workspace_floats(int M, int N, int K, int num_sms);
template <typename T>
void linear(const T* x, const T* w, const float* bias, int M, int N, int K, float* y, int num_sms, float* split_workspace,
            cudaStream_t stream);
// Adds bias[N] to every row of y[M, N] (cuBLAS GEMMs have no bias epilogue in the GemmEx call).
void add_bias_rows(float* y, const float* bias, int M, int N, cudaStream_t stream);
// gemv_kernels.cu: the same product for 1 to kGemvMaxRows rows, one warp per output column streaming its weight row
// (decode at batch 1-4; gemm.cu routes there in --gemm auto). Needs K % 8 == 0 and 16-byte aligned x and w.
constexpr int kGemvMaxRows = 4;
bool gemv_applies(const void* x, const void* w, int M, int K);
template <typename T>
void linear_gemv(const T* x, const T* w, const float* bias, int M, int N, int K, float* y, cudaStream_t stream);

// row_stats_kernels.cu: per logits row the max, argmax (lowest index on ties), log-sum-exp and the top_k
// (value, id) pairs in descending order (ties: lower id first). Lets sampling run without copying full logits.
constexpr int kMaxTopK = 64;
void logits_row_stats(const float* logits, int num_rows, int vocab, int top_k, float* row_max, int32_t* row_argmax,
                      float* row_logsumexp, float* topk_values, int32_t* topk_ids, cudaStream_t stream);

// prompt_ranking_kernels.cu: entries [first_entry, first_entry + num_entries) of a step's prompt rows, entry e's logits
// at row first_row + (e - first_entry) of `logits`: logprob and rank of token_ids[e], top_ns[e] top logprobs (at most
// kMaxTopK), as native/cpu/prompt_logprobs.cpp defines them (pagedllm/prompt_rows.h). Results go to entry e's slots.
struct PromptRanksView {
  double* logprobs;
  int32_t* ranks;
  int32_t* top_counts;
  int32_t* top_ids;      // [entries * top_stride]
  double* top_logprobs;  // [entries * top_stride]
};
void rank_prompt_rows(const float* logits, int vocab, int first_entry, int num_entries, int first_row, const int32_t* token_ids,
                      const int32_t* top_ns, int top_stride, const PromptRanksView& out, cudaStream_t stream);

}  // namespace pagedllm::cuda
