// The contract every compute backend (cpu/, cuda/) implements: load weights, own the KV pool,
// run one forward pass over a flattened batch, and move KV blocks (copy-on-write, swap).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mamba1_config.h"
#include "mamba2_config.h"
#include "prompt_rows.h"
#include "sampling.h"

namespace pagedllm {

enum class DType { F32, F16, BF16 };

// Weight storage on the compute path: F32 converts everything; BF16/F16 keep half the bytes; the block-quantized
// formats keep ggml's block layouts (native/cpu/quant_formats.h), so GGUF tensors are stored as they are (IQ4_XS and
// the ternary TQ1_0 / TQ2_0 only as stored formats: they are converted at load, see has_kernel).
enum class WeightFormat { F32, BF16, F16, Q8_0, Q4_0, Q4_K, Q6_K, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0 };

// One tensor as it lies in a safetensors file; the backend reads and converts it itself,
// so multi-GB checkpoints never pass through a JS buffer.
struct TensorSource {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string path;
  uint64_t offset = 0;  // absolute byte offset of the data in the file
  uint64_t nbytes = 0;
  // GGUF: a quantized format here means the data are ggml blocks of it (dtype then says nothing).
  WeightFormat block_format = WeightFormat::F32;
  // GGUF llama q/k: rows interleaved per head for llama.cpp's rope; the loader restores rotate_half order.
  int rope_interleaved_heads = 0;
  // GPT-2's Conv1D: stored [in, out]; `shape` is the [out, in] the loader wants, and it transposes at load.
  bool transposed = false;
  // GPT-NeoX's query_key_value: rows (or bias values) per head as [q | k | v]; the loader makes them [all q | all k | all v].
  int qkv_interleaved_heads = 0;
  // GPT-J's q/k: with rope_interleaved_heads, only each head's first rope_interleaved_dims rows are interleaved (0: all).
  int rope_interleaved_dims = 0;
  // Falcon's grouped query_key_value (new_decoder_architecture): with qkv_interleaved_heads groups, each group's rows are
  // [this many q heads | k | v]; 1 is GPT-NeoX's per-head [q | k | v].
  int qkv_queries_per_group = 1;
  // GPT-OSS's MXFP4 experts (a checkpoint's *_blocks and *_scales): the data are [rows, cols / 2] bytes, two fp4 e2m1
  // codes each (low nibble first), and these [rows, cols / 32] e8m0 scales (2^(s - 127)) sit beside them; the CPU
  // loader dequantizes both into f32 (exact) before any reordering. mxfp4_scales_nbytes 0: not MXFP4.
  std::string mxfp4_scales_path;
  uint64_t mxfp4_scales_offset = 0, mxfp4_scales_nbytes = 0;
  // A GGUF MXFP4 tensor (ggml type 39): 17-byte blocks of 32 values, an e8m0 scale byte then 16 bytes whose low nibbles
  // are values 0-15 and high nibbles values 16-31, each code a doubled e2m1 value times 2^(scale - 128) (the same
  // product as a checkpoint's 2^(scale - 127) e2m1); the CPU loader dequantizes into f32 (exact) before any reordering.
  bool mxfp4_ggml_blocks = false;
  // FP8 weights (safetensors F8_E4M3, or F8_E5M2 when fp8_e5m2): the data are one code a value, and these float scales
  // (fp8_scales_dtype) multiply blocks of fp8_block_rows x fp8_block_cols values, the grid rounded up (per tensor: one
  // block; per row: rows of one). The CPU loader dequantizes into f32 before any reordering. fp8_scales_nbytes 0: not FP8.
  std::string fp8_scales_path;
  uint64_t fp8_scales_offset = 0, fp8_scales_nbytes = 0;
  DType fp8_scales_dtype = DType::F32;
  int fp8_block_rows = 0, fp8_block_cols = 0;
  bool fp8_e5m2 = false;
  // GGUF ssm_a: a state-space mixer's decay rate A = -exp(A_log) itself, as llama.cpp's converter stores it in place of
  // A_log; the mixer loaders take it as it is.
  bool decay_rate_stored = false;
  // GGUF BitNet: the tensor's values times this scalar (a per-tensor `<name>.scale` that llama.cpp's graph multiplies
  // into the projection's output), folded in at load: float values in fp32, Q8_0 blocks (TQ1_0 / TQ2_0 once converted)
  // in their f16 d, rounded as the matrix's own values are. 1: none.
  float scale = 1.f;
};

// Divisors: one divisor per rotary frequency, computed at load (yarn, longrope: src/engine/model/rope-scaling.ts).
enum class RopeScaling { None, Linear, Llama3, Divisors };

// The MLP's gate activation: SwiGLU (silu) or GeGLU with gelu's tanh form (Gemma's gelu_pytorch_tanh); the LayerNorm
// family's plain (non-gated) MLP also takes relu and gelu's exact erf form.
// Relu2: relu(x)^2 (Nemotron, Arcee); Xielu: Apertus's xIELU with learned scalars per layer (CPU only: native/cpu/activation.cpp).
enum class Activation { Silu, GeluTanh, Relu, GeluErf, Relu2, Xielu };

// Gemma 4 (native/cpu/gemma4_forward.cpp): one layer's shape and the layer whose K/V cache it reads (itself, or for a
// KV-shared layer an earlier one; such a layer writes no cache). k_eq_v: its key projection is the value too.
struct Gemma4Layer {
  int head_dim = 0;
  int num_kv_heads = 0;
  int intermediate_size = 0;
  int kv_source = 0;
  bool k_eq_v = false;
};
// Gemma 3n (native/cpu/gemma3n_forward.cpp) on Gemma 4's layers: altup_inputs parallel streams (the layer runs on
// stream altup_active), LAuReL's rank-laurel_rank residual, and per layer the share of MLP gate activations cut by a
// gaussian top-k (0: none). CPU only.
struct Gemma3nConfig {
  int altup_inputs = 0;  // 0: not Gemma 3n
  int altup_active = 0;
  bool altup_correct_scale = true;
  int laurel_rank = 0;
  std::vector<float> activation_sparsity;  // [num_layers]
  bool enabled() const { return altup_inputs > 0; }
};
struct Gemma4Config {
  std::vector<Gemma4Layer> layers;  // empty: not Gemma 4
  int per_layer_input_size = 0;     // per-layer input embeddings' width per layer; 0: none
  int per_layer_vocab_size = 0;
  float per_layer_embedding_scale = 1.f;  // sqrt(per_layer_input_size) in the checkpoint's dtype
  int full_rope_angles = 0;          // full layers' proportional rope: frequency pairs that turn (the rest stay)
  float full_rope_factor = 1.f;
  float local_rope_theta = 10000.f;  // sliding layers' default rope
  Gemma3nConfig gemma3n;
  bool enabled() const { return !layers.empty(); }
  bool writes_kv(int layer) const { return !enabled() || layers.at(layer).kv_source == layer; }
};

// Zamba2 (native/cpu/zamba2_forward.h): every layer a Mamba-2 mixer (linear_layers all 1, mamba2.no_mlp); a layer with a
// shared block first runs that transformer block over [hidden | embeddings] (its own LoRA adapters on the block's
// gate_up, and on q/k/v with attention_adapters), and adds the result, through the layer's linear, to the mixer's input.
// Those layers hold a KV cache. CPU only.
struct Zamba2Config {
  std::vector<int> shared_block;  // [num_layers]: the shared block a layer runs, or -1
  int num_blocks = 0;
  int adapter_rank = 0;
  bool attention_adapters = false;
  bool rope = false;  // use_mem_rope
  // Zamba (v1): its block's MLP stores gate_proj and up_proj apart (Zamba2 fuses them in gate_up_proj); adapter_rank 0.
  bool gate_up_apart = false;
  bool enabled() const { return num_blocks > 0; }
  bool attends(int layer) const { return enabled() && shared_block.at(layer) >= 0; }
};

struct ModelConfig {
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.f;
  RopeScaling rope_scaling = RopeScaling::None;
  float rope_factor = 1.f;
  float rope_low_freq_factor = 1.f;
  float rope_high_freq_factor = 4.f;
  int rope_original_max_position = 8192;
  std::vector<double> rope_divisors;   // RopeScaling::Divisors: [head_dim / 2]
  float rope_attention_factor = 1.f;   // yarn, longrope: cos and sin are multiplied by it (so q.k by its square)
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // Qwen2: q/k/v projections carry a bias
  bool attention_output_bias = false;  // Llama's attention_bias: o_proj carries one too (CPU only)
  bool mlp_bias = false;        // Llama's mlp_bias: gate, up and down projections carry biases (CPU only)
  bool qk_norm = false;         // Qwen3: each q and k head is RMS-normalised (own weights, [head_dim]) before RoPE
  Activation hidden_act = Activation::Silu;
  float norm_weight_offset = 0.f;  // Gemma: RMSNorm scales by (1 + weight); added to every norm weight at load (fp32)
  float embedding_scale = 1.f;     // Gemma: embedding rows times sqrt(hidden_size), rounded to the checkpoint's dtype
  // Gemma 2: RMSNorm on the attention and the MLP outputs too (post_attention_layernorm, post_feedforward_layernorm;
  // pre_feedforward_layernorm then takes the pre-MLP place), scores scaled by query_pre_attn_scalar^-0.5 instead of
  // head_dim^-0.5, and attention scores and logits soft-capped to cap * tanh(x / cap) (0: no cap).
  bool sandwich_norms = false;
  float attention_scale = 0.f;  // 0: 1 / sqrt(head_dim)
  float attn_logit_softcap = 0.f;
  float final_logit_softcap = 0.f;
  // Mixture of experts (Mixtral, Qwen2-MoE, Qwen3-MoE; native/cpu/moe.h): in the layers sparse_layers marks, the MLP is
  // a router over num_experts gated MLPs of moe_intermediate_size, num_experts_per_tok of them per token, plus Qwen2-MoE's
  // shared expert when shared_expert_intermediate_size > 0. num_experts 0: every MLP is dense.
  int num_experts = 0;
  int num_experts_per_tok = 0;
  bool norm_topk_prob = false;
  int moe_intermediate_size = 0;
  int shared_expert_intermediate_size = 0;
  bool shared_expert_gated = true;  // false: the shared expert's output is added as is (GraniteMoeShared)
  bool shared_expert_average = false;  // Cohere2-MoE's "average": (routed + shared expert outputs) / 2 (CPU only)
  std::vector<uint8_t> sparse_layers;  // [num_layers], 1 = sparse MLP
  // PhiMoE: sparsemixer routing (top-2, each pick a softmax over the experts within 2 * jitter_eps of it) in place of
  // softmax top-k (native/cpu/sparsemixer.cpp).
  bool sparsemixer = false;
  double sparsemixer_jitter_eps = 0.0;
  // GPT-OSS: each expert's gate and up fused (mlp.experts.E.gate_up_proj.weight, gate rows then up rows), activated by
  // its clamped SwiGLU (cpu clamped_swiglu_and_mul); the router and the experts carry biases where the tensors exist.
  bool gpt_oss_experts = false;
  // Nemotron-H: each routed expert and the shared one is down(act(up(x))), no gate (their gate_up holds up's rows only).
  bool moe_ungated_experts = false;
  // Nemotron-H's latent MoE (moe_latent_size > 0): the routed experts run on fc1_latent_proj(x) and their weighted sum
  // goes through fc2_latent_proj back to hidden_size; the router and the shared expert read x.
  int moe_latent_size = 0;
  // DeepSeek V2/V3 routing (native/cpu/grouped_topk.cpp) when moe_groups > 0: softmax (V2) or sigmoid (V3) scores, V3's
  // e_score_correction_bias added for the choice only, only the experts of the moe_topk_groups best of moe_groups groups
  // eligible (a group ranked by its best score, or V3's sum of its best two), weights times routed_scaling_factor.
  int moe_groups = 0;
  int moe_topk_groups = 0;
  bool moe_sigmoid = false;
  bool moe_group_top2 = false;
  bool moe_router_bias = false;  // mlp.gate.e_score_correction_bias, [num_experts]
  float routed_scaling_factor = 1.f;
  float moe_topk_norm_eps = 1e-20f;  // added to the chosen weights' sum before they are renormalised (LFM2-MoE: 1e-6)
  bool is_sparse_layer(int layer) const { return num_experts > 0 && sparse_layers.at(layer) != 0; }
  // DeepSeek's multi-head latent attention (native/cpu/mla.h), expanded per token into num_heads K and V heads of
  // head_dim = qk_nope + qk_rope (rotary_dim, rotated first), V zero-padded from mla_v_head_dim; kv_lora_rank 0: none.
  int mla_kv_lora_rank = 0;
  int mla_q_lora_rank = 0;  // 0: a plain q_proj
  int mla_v_head_dim = 0;
  bool mla_rope_interleaved = false;  // q_pe / k_pe rotate interleaved pairs (V2 always, V3's rope_interleave)
  float mla_norm_eps = 1e-6f;  // q_a / kv_a latent RMSNorms: their class default in transformers, not rms_norm_eps
  // The LayerNorm family (OPT, GPT-NeoX, GPT-2: native/cpu/layernorm_family.cpp): LayerNorm with bias (eps in
  // rms_norm_eps), a plain MLP fc1 -> hidden_act -> fc2 (fc1 in gate_up, fc2 in down), biases where the checkpoint has
  // them (the loader reads each bias the model's tensor list names).
  bool layer_norm = false;
  bool norm_affine = true;          // OPT's layer_norm_elementwise_affine (false: weight 1, bias 0)
  bool post_norm = false;           // OPT-350m (do_layer_norm_before false): each norm after its residual add
  bool final_norm = true;           // post_norm models have no final norm
  bool parallel_residual = false;   // GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x))
  int learned_positions = 0;        // rows of embed_positions (0: none)
  int position_offset = 0;          // OPT: position p reads row p + 2
  // GPT-NeoX: the rotated leading dims of each head (0: no rotary); the frequencies are over them. The RMSNorm path
  // reads it too (Phi-3's partial_rotary_factor, CPU only), where 0 means whole heads.
  int rotary_dim = 0;
  int embed_dim = 0;                // OPT's word_embed_proj_dim when it differs from hidden_size (project_in/out); else 0
  // Sliding-window attention per layer (Mistral, Qwen2/Qwen3 use_sliding_window, Gemma 2/3): [num_layers] windows, a
  // query at p seeing keys (p - window, p]; 0: full attention. Empty: every layer full.
  std::vector<int> layer_windows;
  // Gemma 3: layers with a window rotate with this base (rope_local_base_freq, no scaling); 0: one rope for all layers.
  float rope_local_theta = 0.f;
  // More of the LayerNorm family (Phi, StableLM, StarCoder2, GPT-J): one input norm feeding attention and MLP of a
  // parallel block, a gated MLP (gate/up in gate_up, hidden_act(gate) * up, down), and with qk_norm a LayerNorm of
  // each q and k head (weights and biases per head); an lm_head bias when the checkpoint has one.
  bool shared_norm = false;
  bool gated_mlp = false;
  // GPT-2's scale_attn_by_inverse_layer_idx: layer l's attention scores are also divided by l + 1.
  bool attention_scale_by_layer = false;
  // RMSNorm-family variants (native/cpu/rms_variants.h): Granite scales each sublayer output before its residual add
  // and the logits; OLMo2 has no pre-norms (post_attention_layernorm and post_feedforward_layernorm on the sublayer
  // outputs) and RMS-normalises the whole q and k projections; SmolLM3 skips rope on some layers; Cohere normalises
  // with LayerNorm (weight only: norm_mean) and runs attention and MLP in parallel on one input_layernorm
  // (parallel_residual: x + attn(norm(x)) + mlp(norm(x))), its interleaved rope turned into rotate_half at load; OLMo
  // normalises with LayerNorm without weights (norm_mean, norm_affine false).
  float residual_multiplier = 1.f;
  float logits_multiplier = 1.f;       // Granite: 1 / logits_scaling; Cohere: logit_scale
  bool post_norms_only = false;
  bool whole_qk_norm = false;          // with qk_norm: q_norm is [num_heads * head_dim], k_norm [num_kv_heads * head_dim]
  bool head_mean_qk_norm = false;      // with qk_norm (Cohere's use_qk_norm): per-head LayerNorms, no bias, each head's own weights (sizes as whole_qk_norm's)
  std::vector<uint8_t> rope_layers;    // [num_layers], 0 = no rope on that layer; empty: rope on every layer
  bool norm_mean = false;
  // Nemotron, Arcee: the MLP is down(act(up(x))), no gate (up_proj alone in gate_up); CPU only.
  bool ungated_mlp = false;
  // HunYuan dense: the per-head q/k norms (qk_norm) come after rope, not before; CPU only.
  bool qk_norm_after_rope = false;
  // BitNet: RMSNorms on the attention output before o_proj and on act(gate) * up before down_proj; with bit_linear, its
  // online AutoBitLinear: every decoder projection's weight ternarized at load (round(w / mean|w|) in [-1, 1], times
  // mean|w|, per tensor) and its input rows fake-quantized to int8 (absmax per row). CPU only.
  bool sub_norms = false;
  bool bit_linear = false;
  // NanoChat: the embeddings RMS-normed by the final norm before the first layer; its rope turns by -angle (sines
  // negated: rotate_half as (x2, -x1)). CPU only.
  bool embedding_norm = false;
  bool reversed_rope = false;
  // DiffLlama: differential attention (native/cpu/diff_attention.h) with each layer's self_attn.lambda_q1 / k1 / q2 / k2
  // ([head_dim]); num_heads and num_kv_heads even. CPU only.
  bool diff_attention = false;
  float clip_qkv = 0.f;                // OLMo, OLMoE: q, k and v clamped to [-clip_qkv, clip_qkv] after projection; 0: none
  // OLMo's norms have no weights (norm_affine false, as OPT's: weight 1 then).
  // ALiBi (BLOOM, Falcon-RW, MPT: native/cpu/kernels.h AttentionBatch): one slope per query head, any scale the model
  // puts on the bias folded in; empty: none. The LayerNorm family also reads clip_qkv (MPT).
  std::vector<float> alibi_slopes;
  Gemma4Config gemma4;
  // Hybrid linear attention (Qwen 3.5: native/cpu/linear_attention.h): layers linear_layers marks are Gated DeltaNet
  // layers holding a per-sequence recurrent state (no KV cache); the others are full attention whose q_proj also gives
  // a sigmoid output gate (attention_output_gate). Empty: every layer is full attention.
  std::vector<uint8_t> linear_layers;  // [num_layers], 1 = Gated DeltaNet
  bool attention_output_gate = false;
  int linear_num_k_heads = 0;
  int linear_num_v_heads = 0;
  int linear_k_dim = 0;
  int linear_v_dim = 0;
  int linear_conv_kernel = 0;
  // GGUF qwen35 / qwen35moe: value heads in llama.cpp's tiled order, value head h reading key head h % k_heads (the
  // checkpoint's grouped order reads h / (v_heads / k_heads)).
  bool linear_v_heads_tiled = false;
  // OLMo Hybrid: beta = sigmoid(b) * linear_beta_scale (2 with its allow_neg_eigval), the gated norm's own eps (0:
  // rms_norm_eps), and post_norms_only on the attention layers alone (its linear layers are pre-norm).
  float linear_beta_scale = 1.f;
  float linear_norm_eps = 0.f;
  // Kimi Linear: the linear layers are Kimi Delta Attention (native/cpu/kimi_delta.h: a decay per key channel, low-rank
  // decay and output gates), k and v heads alike; CPU only.
  bool kimi_delta = false;
  bool is_linear_layer(int layer) const { return !linear_layers.empty() && linear_layers.at(layer) != 0; }
  // Full attention with its KV cache: the layers that are not linear, and Falcon-H1's mixer layers too (mamba2.falcon_h1).
  bool has_attention(int layer) const { return !is_linear_layer(layer) || mamba2.falcon_h1.enabled; }
  // Llama 4 (native/cpu/llama4_layers.h; its NoPE layers are rope_layers 0): layer_windows hold attention chunks, not
  // windows (a query at p sees keys from p - p % chunk on); with rope_layer_qk_norm the rope layers' q and k heads are
  // RMS-normalised after rope without weights; with attn_temperature_scale > 0 the NoPE layers' queries are multiplied by
  // log1p(floor((p + 1) / attn_floor_scale)) * attn_temperature_scale + 1. CPU only.
  bool chunked_attention = false;
  bool rope_layer_qk_norm = false;
  float attn_temperature_scale = 0.f;
  int attn_floor_scale = 1;
  // Llama 4's router: the sigmoids of the top-k router logits scale each chosen expert's input, and the experts' outputs
  // are added unweighted; its experts, as GPT-OSS's, are stored with gate and up fused (mlp.experts.E.gate_up_proj).
  bool moe_input_scaled = false;
  bool expert_gate_up_fused = false;
  Mamba2Config mamba2;  // when enabled, the linear layers are Mamba-2 mixers (mamba2_config.h)
  Mamba1Config mamba1;  // or Mamba-1 mixers (mamba1_config.h)
  // Mamba2, Mamba, Falcon-Mamba, Nemotron-H's lone mixers: a layer of norm and mixer, no MLP.
  bool has_mlp(int layer) const { return !mamba1.no_mlp && mamba2.has_mlp(layer); }
  // LFM2: when > 0, the linear layers are gated short convolutions of this kernel over hidden_size channels
  // (native/cpu/short_conv.h); their state is the last short_conv_kernel - 1 inputs.
  int short_conv_kernel = 0;
  Zamba2Config zamba2;
};

struct CacheConfig {
  int num_blocks = 0;       // device KV pool
  int block_size = 16;      // tokens per block
  int num_swap_blocks = 0;  // host swap pool (same block shape)
  int num_state_slots = 0;  // hybrid models: per-sequence recurrent state slots (one per running sequence)
};

struct BackendOptions {
  ModelConfig model;
  CacheConfig cache;
  std::vector<TensorSource> tensors;
  WeightFormat weight_format = WeightFormat::F32;
  int num_threads = 0;  // 0 = backend default
  // CPU: float linear layers sum every output in one order at any row count, so a request's logits do not depend on
  // what shares its step (at the cost of the faster packed kernel for prefill); quantized weights always do.
  bool batch_invariant = false;
};

// A flattened batch; the same layout feeds CPU and CUDA kernels (vLLM / flash-attn varlen style).
// Sequence i owns query rows [query_start_loc[i], query_start_loc[i+1]): a prefill chunk or one
// decode token. Its context after this step is context_lens[i] tokens, all reachable through
// block_tables[i * max_blocks_per_seq + j]. New K/V of row t go to slot_mapping[t]
// (= block * block_size + offset; -1 = do not write).
struct ForwardBatch {
  int num_tokens = 0;
  int num_seqs = 0;
  int max_blocks_per_seq = 0;
  const int32_t* token_ids = nullptr;        // [num_tokens]
  const int32_t* positions = nullptr;        // [num_tokens]
  const int32_t* slot_mapping = nullptr;     // [num_tokens]
  const int32_t* query_start_loc = nullptr;  // [num_seqs + 1]
  const int32_t* context_lens = nullptr;     // [num_seqs]
  const int32_t* block_tables = nullptr;     // [num_seqs * max_blocks_per_seq]
  int num_logits = 0;
  const int32_t* logits_indices = nullptr;   // [num_logits] rows whose logits are returned
  // Hybrid models: each sequence's recurrent state slot (a sequence whose first row is position 0 starts from zeros).
  const int32_t* state_slots = nullptr;      // [num_seqs], null for models without linear layers
};

// Block moves requested by the scheduler, applied before the forward pass of the same step.
struct BlockMoves {
  int num_copies = 0;
  const int32_t* copy_pairs = nullptr;      // [2 * num_copies] (src, dst) in the device pool
  int num_swap_out = 0;
  const int32_t* swap_out_pairs = nullptr;  // (device block, host block)
  int num_swap_in = 0;
  const int32_t* swap_in_pairs = nullptr;   // (host block, device block)
  int num_state_copies = 0;
  const int32_t* state_copy_pairs = nullptr;  // (src slot, dst slot): a forked sequence takes its parent's state
};

// Prompt logprobs asked of a step: asked.rows are rows of the batch (token indices), each ranked against the prompt
// token that followed it; `out` takes asked.num_rows answers.
struct PromptRanking {
  PromptRows asked;
  PromptRowsOutput out;
};

struct BackendInfo {
  std::string name;         // "cpu" or "cuda"
  std::string device_name;  // CPU model / GPU name
  int num_threads = 0;
  uint64_t weight_bytes = 0;
  uint64_t kv_bytes_per_block = 0;  // K and V, all layers
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendInfo info() const = 0;
  // Applies moves, then runs the model. Without sampling: writes num_logits * vocab_size floats to logits_out.
  // With sampling: samples its specs from the step's logits into `sampled`, and writes only sampling->host_rows
  // (the rows JS still samples) to logits_out, compactly in that order.
  virtual void step(const BlockMoves& moves, const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling,
                    const SampleOutputs* sampled) = 0;
  // step() that also ranks prompt rows (echo / prompt_logprobs) without handing their logits back. Returns false,
  // having done nothing, where the backend has no such path (CUDA: a top-N over 64): native/src/ranked_step.cpp then
  // ranks them on the host from extra logits rows.
  virtual bool step_ranked(const BlockMoves& moves, const ForwardBatch& batch, float* logits_out, const SampleBatch* sampling,
                           const SampleOutputs* sampled, const PromptRanking& ranking) {
    return false;
  }
  // Test hook: copies one block of one layer's K and V cache out as fp32
  // ([block_size, num_kv_heads, head_dim] each).
  virtual void read_kv_block(int layer, int block, bool from_swap, float* k_out, float* v_out) = 0;
};

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);
#ifdef PAGEDLLM_WITH_CUDA
// Returns nullptr and fills `why` when no usable device is present.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options, std::string* why);
bool cuda_device_available(std::string* device_name_or_reason);
#endif

}  // namespace pagedllm
