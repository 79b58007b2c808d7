// GGUF gpt2 / gptneox / phi2 / starcoder2 / stablelm / starcoder / gptj files (llama.cpp's tensor names and metadata) as the config.json and engine
// tensors they stand for. llama.cpp's converter already stores GPT-2's Conv1D weights as [out, in] and GPT-NeoX's
// query_key_value as [all q | all k | all v], so the tensors are used as they lie.
import {ModelLoadError, quotedValue} from '../errors.js'
import {rowWindows} from './fused-tensors.js'
import {alibiGgufConfigJson, GGUF_ALIBI_ARCHITECTURES} from './gguf-alibi.js'
import type {GgufFile, GgufValue} from './gguf-file.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'
import type {Tokenizer} from './tokenizer.js'

export const GGUF_LAYERNORM_ARCHITECTURES: Record<string, string> = {
  gpt2: 'GPT2LMHeadModel', gptneox: 'GPTNeoXForCausalLM', phi2: 'PhiForCausalLM', starcoder2: 'Starcoder2ForCausalLM', stablelm: 'StableLmForCausalLM',
  starcoder: 'GPTBigCodeForCausalLM', gptj: 'GPTJForCausalLM',
  ...GGUF_ALIBI_ARCHITECTURES,
}

const GLOBAL_NAMES: Record<string, string> = {
  'token_embd.weight': 'model.embed_tokens.weight', 'position_embd.weight': 'model.embed_positions.weight',
  'output_norm.weight': 'model.norm.weight', 'output_norm.bias': 'model.norm.bias', 'output.weight': 'lm_head.weight', 'output.bias': 'lm_head.bias',
  'token_embd_norm.weight': 'model.embed_norm.weight', 'token_embd_norm.bias': 'model.embed_norm.bias', // BLOOM's
}
const LAYER_PARTS: Record<string, string> = {
  attn_norm: 'input_layernorm', attn_qkv: 'self_attn.qkv_proj', attn_output: 'self_attn.o_proj', ffn_norm: 'post_attention_layernorm', ffn_up: 'mlp.fc1', ffn_down: 'mlp.fc2',
  attn_q: 'self_attn.q_proj', attn_k: 'self_attn.k_proj', attn_v: 'self_attn.v_proj',
  attn_norm_2: 'post_attention_layernorm', // Falcon's second parallel norm (ln_mlp)
}
/** StableLM's gated MLP and per-head q/k norms (stacked [heads, head_dim]: splitStackedTensors cuts them). */
const STABLELM_PARTS: Record<string, string> = {ffn_gate: 'mlp.gate_proj', ffn_up: 'mlp.up_proj', ffn_down: 'mlp.down_proj', attn_q_norm: 'self_attn.q_norm', attn_k_norm: 'self_attn.k_norm'}

/** The engine's name of a LayerNorm-family GGUF tensor, or null for tensors the model does not use. */
export function layerNormGgufName(ggufName: string, arch: string): string | null {
  if (GLOBAL_NAMES[ggufName]) return GLOBAL_NAMES[ggufName]
  const match = /^blk\.(\d+)\.([a-z0-9_]+)\.(weight|bias)$/.exec(ggufName)
  const part = match ? (arch === 'stablelm' ? STABLELM_PARTS[match[2]!] : undefined) ?? LAYER_PARTS[match[2]!] : undefined
  return match && part ? `model.layers.${match[1]}.${part}.${match[3]}` : null
}

/** The config.json a gpt2 / gptneox file's metadata stands for (parseModelConfig checks it as any other). */
export function layerNormGgufConfigJson(file: GgufFile, arch: string, vocabSize: number, tokenizer: Tokenizer): Record<string, unknown> {
  const get = (key: string): unknown => {
    const value: GgufValue | undefined = file.metadata.get(`${arch}.${key}`)
    return typeof value === 'bigint' ? Number(value) : value
  }
  const required = (key: string): unknown => {
    if (get(key) === undefined) throw new ModelLoadError(`${file.path}: GGUF metadata ${arch}.${key} is missing`)
    return get(key)
  }
  const common = {
    vocab_size: vocabSize, tie_word_embeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    bos_token_id: tokenizer.bosTokenId, eos_token_id: tokenizer.eosTokenIds, torch_dtype: 'gguf',
  }
  if (GGUF_ALIBI_ARCHITECTURES[arch]) return alibiGgufConfigJson(file, arch, common, get, required)
  if (arch === 'gpt2') {
    return {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: required('embedding_length'), n_inner: required('feed_forward_length'), n_layer: required('block_count'),
      n_head: required('attention.head_count'), n_positions: required('context_length'), layer_norm_epsilon: get('attention.layer_norm_epsilon') ?? 1e-5,
      activation_function: 'gelu_new', ...common,
    }
  }
  if (arch === 'starcoder') return starcoderConfigJson(file.path, common, get, required)
  if (arch === 'gptj') {
    // gguf-py names GPT-J's tensors; llama.cpp has no converter or graph for it, so q/k stay in GPT-J's own interleaved
    // rotary order (the loader reorders each head's first rotary_dim rows, as for the checkpoint: gguf-model.ts).
    return {architectures: ['GPTJForCausalLM'], model_type: 'gptj', n_embd: required('embedding_length'), n_inner: required('feed_forward_length'), n_layer: required('block_count'),
      n_head: required('attention.head_count'), n_positions: required('context_length'), rotary_dim: required('rope.dimension_count'),
      layer_norm_epsilon: get('attention.layer_norm_epsilon') ?? 1e-5, activation_function: 'gelu_new', ...common}
  }
  const hidden = Number(required('embedding_length')), heads = Number(required('attention.head_count'))
  const rotaryDims = Number(required('rope.dimension_count'))
  // phi2 and starcoder2 rotate as NeoX does (rotate_half), so llama.cpp's converter leaves their q/k rows as they are.
  const sizes = {hidden_size: hidden, intermediate_size: required('feed_forward_length'), num_hidden_layers: required('block_count'), num_attention_heads: heads,
    num_key_value_heads: get('attention.head_count_kv') ?? heads, max_position_embeddings: required('context_length'),
    rope_parameters: {rope_type: 'default', rope_theta: get('rope.freq_base') ?? 10000, partial_rotary_factor: rotaryDims / (hidden / heads)}}
  if (arch === 'phi2') {
    return {architectures: ['PhiForCausalLM'], model_type: 'phi', ...sizes, layer_norm_eps: get('attention.layer_norm_epsilon') ?? 1e-5, hidden_act: 'gelu_new', ...common}
  }
  if (arch === 'stablelm') {
    // llama.cpp runs the serial block when a layer has ffn_norm and Phi's one-norm parallel block without it, whatever
    // use_parallel_residual says (its converter writes true for checkpoints that leave it out); it rotates with base
    // 10000 unless the file says, and its activation is SiLU.
    const has = (name: string) => file.tensors.some((t) => t.name === name)
    return {architectures: ['StableLmForCausalLM'], model_type: 'stablelm', ...sizes, layer_norm_eps: get('attention.layer_norm_epsilon') ?? 1e-5, hidden_act: 'silu',
      use_qkv_bias: has('blk.0.attn_q.bias'), qk_layernorm: has('blk.0.attn_q_norm.weight'), use_parallel_residual: !has('blk.0.ffn_norm.weight'), ...common}
  }
  if (arch === 'starcoder2') {
    // llama.cpp keeps no sliding window for starcoder2 and attends over the whole context, as does this.
    return {architectures: ['Starcoder2ForCausalLM'], model_type: 'starcoder2', ...sizes, norm_epsilon: get('attention.layer_norm_epsilon') ?? 1e-5, sliding_window: null,
      use_bias: file.tensors.some((t) => t.name === 'blk.0.attn_q.bias'), hidden_act: 'gelu_pytorch_tanh', ...common}
  }
  return {
    architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', hidden_size: hidden, intermediate_size: required('feed_forward_length'), num_hidden_layers: required('block_count'),
    num_attention_heads: heads, max_position_embeddings: required('context_length'), layer_norm_eps: get('attention.layer_norm_epsilon') ?? 1e-5,
    rotary_pct: rotaryDims / (hidden / heads), rotary_emb_base: get('rope.freq_base') ?? 10000, use_parallel_residual: get('use_parallel_residual') ?? true, hidden_act: 'gelu', ...common,
  }
}

/**
 * StarCoder 1 / SantaCoder (GPTBigCode): llama.cpp's converter writes head_count_kv 1 (multi-query) and c_attn as it
 * lies, [all q | k | v]; its graph reads attn_qkv that way for any KV head count, so a file with head_count_kv equal to
 * head_count runs as multi-head attention over those rows. GPTBigCode has no grouped attention between the two.
 */
function starcoderConfigJson(path: string, common: Record<string, unknown>, get: (key: string) => unknown, required: (key: string) => unknown): Record<string, unknown> {
  const heads = required('attention.head_count'), kvHeads = get('attention.head_count_kv') ?? heads
  if (kvHeads !== 1 && kvHeads !== heads) {
    throw new ModelLoadError(`${path}: starcoder.attention.head_count_kv ${quotedValue(kvHeads)} is neither 1 (multi-query, as llama.cpp's converter writes) nor head_count ${quotedValue(heads)}; GPTBigCode has no grouped attention.`)
  }
  return {architectures: ['GPTBigCodeForCausalLM'], model_type: 'gpt_bigcode', n_embd: required('embedding_length'), n_inner: required('feed_forward_length'),
    n_layer: required('block_count'), n_head: heads, multi_query: kvHeads === 1, n_positions: required('context_length'),
    layer_norm_epsilon: get('attention.layer_norm_epsilon') ?? 1e-5, activation_function: 'gelu_pytorch_tanh', ...common}
}

/**
 * What llama.cpp stacks and the engine reads apart, as byte windows of the file: older phi2 files' (TheBloke's, from
 * phi-2's own Wqkv) fused attn_qkv, rows [all q | all k | all v] as llama.cpp's phi2 graph views them, weights and biases
 * alike; StableLM's per-head q/k norms, one [heads, head_dim] tensor each. Other tensors as they are.
 */
export function splitStackedTensors(config: ModelConfig, tensors: TensorInfo[]): TensorInfo[] {
  const q = config.numHeads * config.headDim, kv = config.numKvHeads * config.headDim
  return tensors.flatMap((tensor) => {
    const norms = config.architecture === 'StableLmForCausalLM' ? /^(model\.layers\.\d+\.self_attn\.)([qk])_norm\.weight$/.exec(tensor.name) : null
    if (norms) {
      const heads = norms[2] === 'q' ? config.numHeads : config.numKvHeads
      const parts = Array.from({length: heads}, (_, h): [string, number] => [`${norms[1]}${norms[2]}_norm.${h}.weight`, 1])
      return rowWindows(tensor, parts, 2).map((part) => ({...part, shape: [config.headDim]}))
    }
    const fused = config.architecture === 'PhiForCausalLM' ? /^(model\.layers\.\d+\.self_attn\.)qkv_proj\.(weight|bias)$/.exec(tensor.name) : null
    if (!fused) return [tensor]
    const parts: [string, number][] = [['q', q], ['k', kv], ['v', kv]].map(([part, rows]) => [`${fused[1]}${part}_proj.${fused[2]}`, rows as number])
    return rowWindows(tensor, parts, fused[2] === 'weight' ? 2 : 1)
  })
}
