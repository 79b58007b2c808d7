// BLOOM, Falcon (7B's multi-query, 40B/180B's new_decoder_architecture, RW's ALiBi) and MPT: their config.json read as
// transformers 5.18's config classes and modeling code read them (every key that changes the function honoured or
// refused by name), and their checkpoints' tensor names (layernorm-family.ts maps them; layernorm_family.cpp runs them).
import {ModelLoadError, quotedValue} from '../errors.js'
import {bloomAlibiSlopes, mptAlibiSlopes} from './alibi-slopes.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase, layerNormRotary} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {LayerNormFeatures, LayerNormModelFields} from './layernorm-family.js'
import type {ModelConfig} from './model-config.js'
import {switchOn} from './config-switch.js'

// MPTForCausalLM: MosaicML's own class name, which mosaicml/mpt-7b's config.json still gives (transformers reads it as MptForCausalLM by model_type).
export const ALIBI_ARCHITECTURES = ['BloomForCausalLM', 'FalconForCausalLM', 'MptForCausalLM', 'MPTForCausalLM'] as const

type Json = Record<string, unknown>

const FUSED = {'self_attn.qkv_proj': 'self_attention.query_key_value', 'self_attn.o_proj': 'self_attention.dense', 'mlp.fc1': 'mlp.dense_h_to_4h', 'mlp.fc2': 'mlp.dense_4h_to_h'}
export const ALIBI_LAYER_PARTS: Record<string, Record<string, string>> = {
  BloomForCausalLM: {input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm', ...FUSED},
  FalconForCausalLM: {input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm', ...FUSED},
  MptForCausalLM: {input_layernorm: 'norm_1', post_attention_layernorm: 'norm_2', 'self_attn.qkv_proj': 'attn.Wqkv', 'self_attn.o_proj': 'attn.out_proj',
    'mlp.fc1': 'ffn.up_proj', 'mlp.fc2': 'ffn.down_proj'},
}
ALIBI_LAYER_PARTS.MPTForCausalLM = ALIBI_LAYER_PARTS.MptForCausalLM!
export const ALIBI_TOP_LEVEL: Record<string, {prefix: string; layers: string; names: Record<string, string>}> = {
  BloomForCausalLM: {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'word_embeddings', embed_norm: 'word_embeddings_layernorm', norm: 'ln_f'}},
  FalconForCausalLM: {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'word_embeddings', norm: 'ln_f'}},
  MptForCausalLM: {prefix: 'transformer.', layers: 'blocks', names: {embed_tokens: 'wte', norm: 'norm_f'}},
}
ALIBI_TOP_LEVEL.MPTForCausalLM = ALIBI_TOP_LEVEL.MptForCausalLM!

/** A layer part's name in the checkpoint: Falcon's new_decoder_architecture names its two parallel norms ln_attn and ln_mlp. */
export function alibiLayerPart(config: ModelConfig, part: string): string | undefined {
  if (config.architecture === 'FalconForCausalLM' && config.layerNorm!.parallelResidual) {
    if (part === 'input_layernorm') return 'ln_attn'
    if (part === 'post_attention_layernorm') return 'ln_mlp'
  }
  return ALIBI_LAYER_PARTS[config.architecture]![part]
}

/** Reads a BLOOM, Falcon or MPT config.json (dropout rates are ignored: inference has none). */
export function parseAlibiFamilyConfig(config: Json, architecture: string, source: string): LayerNormModelFields {
  const reader = configReader(config, architecture, source)
  const {integer, number, flag, refuse} = reader
  const features: LayerNormFeatures = {...LAYERNORM_DEFAULTS}
  const base = layerNormBase(config, architecture)
  const headDimOf = (hidden: number, heads: number): number => {
    if (hidden % heads !== 0) throw new ModelLoadError(`${source}: the hidden size (${hidden}) is not divisible by the number of attention heads (${heads}).`)
    return hidden / heads
  }
  // A value under either of its names, the first listed winning where both are given: the one transformers keeps (a
  // config class's attribute_map name is set after the class's own key; BLOOM's and Falcon's legacy n_embed overrides).
  const aliased = (keys: string[], fallback: number): number => integer(keys.find((key) => config[key] != null) ?? keys[0]!, fallback)
  let fields: Omit<LayerNormModelFields, keyof ReturnType<typeof layerNormBase> | 'layerNorm' | 'attentionBias'>
  let ropeScaling: ModelConfig['ropeScaling'] = {type: 'none'}
  if (architecture === 'BloomForCausalLM') {
    const hidden = aliased(['n_embed', 'hidden_size'], 64), heads = aliased(['num_attention_heads', 'n_head'], 8)
    refuse('apply_residual_connection_post_layernorm', 'the residual taken after each LayerNorm')
    // pretraining_tp / slow_but_exact only split the dense layers' sums into slices: the same function.
    const headDim = headDimOf(hidden, heads)
    Object.assign(features, {embedNorm: true, alibiSlopes: bloomAlibiSlopes(heads), qkvGroups: {groups: heads, queriesPerGroup: 1}})
    fields = {vocabSize: integer('vocab_size', 250880), hiddenSize: hidden, intermediateSize: 4 * hidden, numLayers: aliased(['num_hidden_layers', 'n_layer'], 2),
      numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: integer('seq_length', 2048), rmsNormEps: number('layer_norm_epsilon', 1e-5),
      hiddenAct: 'gelu_pytorch_tanh', tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000}
  } else if (architecture === 'FalconForCausalLM') {
    const hidden = aliased(['n_embed', 'hidden_size'], 4544), heads = integer('num_attention_heads', 71), headDim = headDimOf(hidden, heads)
    const newArch = flag('new_decoder_architecture', false), parallel = flag('parallel_attn', true), multiQuery = flag('multi_query', true), alibi = flag('alibi', false)
    const lnCount = config.num_ln_in_parallel_attn == null ? (newArch ? 2 : 1) : integer('num_ln_in_parallel_attn')
    if (lnCount !== 1 && lnCount !== 2) throw new ModelLoadError(`${source}: "num_ln_in_parallel_attn" must be 1 or 2, got ${quotedValue(config.num_ln_in_parallel_attn)}.`)
    // transformers builds these layers but its forward pass then reads norms it did not make.
    if (newArch && !parallel) throw new ModelLoadError(`${source}: new_decoder_architecture=true with parallel_attn=false is not supported for ${architecture} (transformers cannot run it either).`)
    if (!newArch && parallel && lnCount === 2) throw new ModelLoadError(`${source}: num_ln_in_parallel_attn=2 needs new_decoder_architecture=true for ${architecture}.`)
    const kvHeads = newArch ? integer('num_kv_heads', heads) : multiQuery ? 1 : integer('num_kv_heads', heads)
    if (heads % kvHeads !== 0) throw new ModelLoadError(`${source}: num_attention_heads (${heads}) is not a multiple of num_kv_heads (${kvHeads}).`)
    if (!newArch && !multiQuery && kvHeads !== heads) throw new ModelLoadError(`${source}: num_kv_heads ${kvHeads} needs new_decoder_architecture=true for ${architecture} (its query_key_value holds a k and v for every head).`)
    const bias = flag('bias', false)
    Object.assign(features, {qkvBias: bias, outputBias: bias, mlpBias: bias, parallelResidual: newArch && lnCount === 2, sharedNorm: parallel && !(newArch && lnCount === 2),
      // [q | k | v] per head (old multi-head), [heads / kv q heads | k | v] per KV group (new_decoder_architecture); multi_query: [all q | k | v].
      ...(newArch || !multiQuery ? {qkvGroups: {groups: kvHeads, queriesPerGroup: heads / kvHeads}} : {})})
    let ropeTheta = 10000, notes: string[] = [], maxPositionEmbeddings = integer('max_position_embeddings', 2048)
    if (alibi) {
      // Falcon-RW scales the biased scores: (q.k + alibi) / sqrt(head_dim).
      features.alibiSlopes = bloomAlibiSlopes(heads).map((slope) => Math.fround(slope / Math.sqrt(headDim)))
    } else {
      ({ropeTheta, ropeScaling, notes, maxPositionEmbeddings} = falconRope(config, architecture, source, headDim, maxPositionEmbeddings))
      features.rotaryDim = headDim
    }
    fields = {vocabSize: integer('vocab_size', 65024), hiddenSize: hidden, intermediateSize: config.ffn_hidden_size == null ? 4 * hidden : integer('ffn_hidden_size'),
      numLayers: integer('num_hidden_layers', 32), numHeads: heads, numKvHeads: kvHeads, headDim, maxPositionEmbeddings,
      rmsNormEps: number('layer_norm_epsilon', 1e-5), hiddenAct: transformersActivation(config.activation ?? 'gelu', 'activation', source), tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta,
      ...(notes.length > 0 ? {notes} : {})}
  } else {
    const hidden = aliased(['hidden_size', 'd_model'], 2048), heads = aliased(['num_attention_heads', 'n_heads'], 16), headDim = headDimOf(hidden, heads)
    const attn = mptAttentionConfig(config, architecture, source)
    if (!flag('no_bias', true)) throw new ModelLoadError(`${source}: no_bias=false is not supported for ${architecture} (transformers' MPT has no biases and would drop them).`)
    if (config.logit_scale != null) throw new ModelLoadError(`${source}: logit_scale ${quotedValue(config.logit_scale)} is not supported for ${architecture} (transformers' MPT does not scale its logits).`)
    if (config.norm_type != null && config.norm_type !== 'low_precision_layernorm' && config.norm_type !== 'layernorm') {
      throw new ModelLoadError(`${source}: norm_type ${quotedValue(config.norm_type)} is not supported for ${architecture} (low_precision_layernorm, layernorm).`)
    }
    // learned_pos_emb: transformers' MPT has no position embeddings (ALiBi only); embedding_fraction only scales training gradients.
    Object.assign(features, {qkvBias: false, outputBias: false, mlpBias: false, normBias: false, alibiSlopes: mptAlibiSlopes(heads, attn.alibiBiasMax), clipQkv: attn.clipQkv})
    if (attn.softmaxScale > 0) base.attentionScale = attn.softmaxScale
    fields = {vocabSize: integer('vocab_size', 50368), hiddenSize: hidden, intermediateSize: integer('expansion_ratio', 4) * hidden, numLayers: aliased(['num_hidden_layers', 'n_layers'], 24),
      numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: integer('max_seq_len', 2048), rmsNormEps: number('layer_norm_epsilon', 1e-5), hiddenAct: 'gelu',
      tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000}
  }
  if (fields.headDim % 2 !== 0) throw new ModelLoadError(`${source}: the head size (${fields.headDim}) must be even for ${architecture}.`)
  return {...base, ...fields, ropeScaling, attentionBias: features.qkvBias, layerNorm: features}
}

/** Falcon's rotary over whole heads: rope_theta and any scaling rope-scaling.ts reads (FalconConfig takes every type). */
function falconRope(config: Json, architecture: string, source: string, headDim: number, maxPositionEmbeddings: number) {
  const rotary = layerNormRotary(config, architecture, source, headDim, maxPositionEmbeddings, 1)
  // transformers would compute frequencies for part of a head and fail to multiply whole heads by them.
  if (rotary.rotaryDim !== headDim) throw new ModelLoadError(`${source}: partial_rotary_factor below 1 is not supported for ${architecture} (its attention rotates whole heads).`)
  return rotary
}

/** MPT's attn_config, as MptAttentionConfig reads it; what transformers' MptAttention lacks is refused by key. */
function mptAttentionConfig(config: Json, architecture: string, source: string): {clipQkv: number; softmaxScale: number; alibiBiasMax: number} {
  const attn = (config.attn_config ?? {}) as Json
  if (typeof attn !== 'object' || attn === null || Array.isArray(attn)) throw new ModelLoadError(`${source}: "attn_config" must be an object.`)
  const refuseKey = (key: string, why: string) => {
    throw new ModelLoadError(`${source}: attn_config.${key} ${quotedValue(attn[key])} is not supported for ${architecture} (${why}).`)
  }
  if ((attn.attn_type ?? 'multihead_attention') !== 'multihead_attention') refuseKey('attn_type', 'multihead_attention only, as transformers runs it')
  if (!['torch', 'flash', 'triton'].includes(String(attn.attn_impl ?? 'torch'))) refuseKey('attn_impl', 'torch, flash or triton, which compute the same attention')
  for (const key of ['prefix_lm', 'qk_ln', 'attn_uses_sequence_id']) {
    if (switchOn(attn, key, `${source}: attn_config`)) refuseKey(key, key === 'qk_ln' ? 'transformers\' MPT has no q/k LayerNorms' : key === 'prefix_lm' ? 'bidirectional attention over a prefix' : 'attention split by sequence id')
  }
  if (attn.alibi === false) refuseKey('alibi', 'transformers\' MPT always applies ALiBi and has no position embeddings')
  const positive = (key: string, fallback: number): number => {
    const value = attn[key] ?? fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && fallback !== 0)) {
      throw new ModelLoadError(`${source}: "attn_config.${key}" must be a positive number${fallback === 0 ? ' or null' : ''}, got ${quotedValue(attn[key])}.`)
    }
    return value
  }
  return {clipQkv: positive('clip_qkv', 0), softmaxScale: positive('softmax_scale', 0), alibiBiasMax: positive('alibi_bias_max', 8)}
}
