// Persimmon (Adept's Persimmon-8B; Fuyu's language model): a serial pre-LN block with biases everywhere, q, k and v fused
// per head as GPT-NeoX fuses them, LayerNorms (weight and bias, one for every head) over q and k before a partial
// rotate_half rotary, and an ungated relu^2 MLP. Its config.json read as transformers 5.18's PersimmonConfig reads it;
// its checkpoint names for layernorm-family.ts.
import {ModelLoadError} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase, layerNormRotary} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {LayerNormModelFields} from './layernorm-family.js'

export const PERSIMMON = 'PersimmonForCausalLM'

type Json = Record<string, unknown>

export const PERSIMMON_LAYER_PARTS: Record<string, string> = {input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm',
  'self_attn.qkv_proj': 'self_attn.query_key_value', 'self_attn.o_proj': 'self_attn.dense', 'self_attn.q_norm': 'self_attn.q_layernorm',
  'self_attn.k_norm': 'self_attn.k_layernorm', 'mlp.fc1': 'mlp.dense_h_to_4h', 'mlp.fc2': 'mlp.dense_4h_to_h'}
export const PERSIMMON_TOP_LEVEL = {prefix: 'model.', layers: 'layers', names: {embed_tokens: 'embed_tokens', norm: 'final_layernorm'}}

/** PersimmonConfig's keys with its defaults (Persimmon-8B's sizes, relu2, half of each head rotated, q/k LayerNorms). */
export function parsePersimmonConfig(config: Json, source: string): LayerNormModelFields {
  const {integer, number, flag} = configReader(config, PERSIMMON, source)
  const hidden = integer('hidden_size', 4096), heads = integer('num_attention_heads', 64)
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: "hidden_size" ${hidden} is not divisible by "num_attention_heads" ${heads}.`)
  const headDim = hidden / heads
  // The backends lay heads out in rotary pairs; said here, it names the config rather than failing in the backend.
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: the head size (hidden_size ${hidden} / ${heads} num_attention_heads = ${headDim}) must be even.`)
  // PersimmonConfig sets partial_rotary_factor 0.5 unless config.json gives one.
  const rotary = layerNormRotary(config, PERSIMMON, source, headDim, integer('max_position_embeddings', 16384), 0.5)
  return {
    ...layerNormBase(config, PERSIMMON), ropeScaling: rotary.ropeScaling,
    vocabSize: integer('vocab_size', 262144), hiddenSize: hidden, intermediateSize: integer('intermediate_size', 16384), numLayers: integer('num_hidden_layers', 36),
    numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: rotary.maxPositionEmbeddings, rmsNormEps: number('layer_norm_eps', 1e-5),
    hiddenAct: transformersActivation(config.hidden_act ?? 'relu2', 'hidden_act', source), tieWordEmbeddings: flag('tie_word_embeddings', false), ropeTheta: rotary.ropeTheta,
    ...(rotary.notes.length > 0 ? {notes: rotary.notes} : {}),
    attentionBias: true,
    // query_key_value per head [q | k | v], regrouped at load; q_layernorm / k_layernorm one [head_dim] LayerNorm for every head.
    layerNorm: {...LAYERNORM_DEFAULTS, rotaryDim: rotary.rotaryDim, headNorm: flag('qk_layernorm', true) ? 'shared' : 'none', qkvGroups: {groups: heads, queriesPerGroup: 1}},
  }
}
