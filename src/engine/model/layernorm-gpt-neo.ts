// GPT-Neo (EleutherAI's 125M / 1.3B / 2.7B): GPT-2's block with nn.Linear q/k/v (no biases), an out_proj with one,
// unscaled attention scores, and local attention (a window of window_size) on the layers attention_types marks "local".
// Its config.json read as transformers 5.18's GPTNeoConfig reads it; its checkpoint names for layernorm-family.ts.
import {ModelLoadError, quotedValue} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {LayerNormModelFields} from './layernorm-family.js'

export const GPT_NEO = 'GPTNeoForCausalLM'

type Json = Record<string, unknown>

export const GPT_NEO_LAYER_PARTS: Record<string, string> = {input_layernorm: 'ln_1', post_attention_layernorm: 'ln_2', 'self_attn.q_proj': 'attn.attention.q_proj',
  'self_attn.k_proj': 'attn.attention.k_proj', 'self_attn.v_proj': 'attn.attention.v_proj', 'self_attn.o_proj': 'attn.attention.out_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj'}
export const GPT_NEO_TOP_LEVEL = {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'wte', embed_positions: 'wpe', norm: 'ln_f'}}

/** GPTNeoConfig's keys (num_heads / num_layers, or the num_attention_heads / num_hidden_layers its attribute_map takes) with its defaults. */
export function parseGptNeoConfig(config: Json, source: string): LayerNormModelFields {
  const {integer, number, flag, aliased} = configReader(config, GPT_NEO, source)
  const hidden = integer('hidden_size', 2048), heads = aliased('num_heads', 'num_attention_heads', 16), numLayers = aliased('num_layers', 'num_hidden_layers', 24)
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: the hidden size (${hidden}) is not divisible by the number of attention heads (${heads}).`)
  const positions = integer('max_position_embeddings', 2048)
  return {
    ...layerNormBase(config, GPT_NEO),
    // Scores are q.k unscaled (transformers' _attn has no 1/sqrt(head_dim)).
    attentionScale: 1,
    vocabSize: integer('vocab_size', 50257), hiddenSize: hidden, intermediateSize: config.intermediate_size == null ? 4 * hidden : integer('intermediate_size'),
    numLayers, numHeads: heads, numKvHeads: heads, headDim: hidden / heads, maxPositionEmbeddings: positions, rmsNormEps: number('layer_norm_epsilon', 1e-5),
    hiddenAct: transformersActivation(config.activation_function ?? 'gelu_new', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000,
    attentionBias: false,
    layerNorm: {...LAYERNORM_DEFAULTS, qkvBias: false, learnedPositions: positions},
    ...windowsOf(config, numLayers, source),
  }
}

/**
 * attention_types [[["global", "local"], 12]] expands to one type a layer (the list repeated count times); a local layer's
 * query at p sees keys (p - window_size, p], as transformers' tril(ones) xor tril(ones, -window_size) mask.
 */
function windowsOf(config: Json, numLayers: number, source: string): {layerWindows?: number[]} {
  const raw = config.attention_types ?? [[['global', 'local'], 12]]
  const bad = (why: string) => new ModelLoadError(`${source}: "attention_types" ${quotedValue(raw)} ${why}.`)
  if (!Array.isArray(raw)) throw bad('must be a list of [[types...], count] pairs')
  const pairs = raw.map((item) => {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[0]) || !Number.isInteger(item[1]) || (item[1] as number) < 0) throw bad('must be a list of [[types...], count] pairs')
    return {pattern: item[0] as unknown[], count: item[1] as number}
  })
  // Counted before expanding, so a hostile count never builds a huge list.
  const total = pairs.reduce((sum, {pattern, count}) => sum + pattern.length * count, 0)
  if (total !== numLayers) throw bad(`gives ${total} layer types for ${numLayers} layers`)
  const types = pairs.filter(({pattern}) => pattern.length > 0).flatMap(({pattern, count}) => Array.from({length: count}, () => pattern).flat())
  const unknown = types.find((type) => type !== 'global' && type !== 'local')
  if (unknown !== undefined) throw bad(`names the attention type ${quotedValue(unknown)} (global, local)`)
  if (!types.includes('local')) return {}
  const window = config.window_size ?? 256
  if (typeof window !== 'number' || !Number.isInteger(window) || window <= 0) throw new ModelLoadError(`${source}: "window_size" must be a positive integer, got ${quotedValue(window)}.`)
  // A window past any context is full attention; the backends take windows as 32-bit integers.
  return {layerWindows: types.map((type) => (type === 'local' ? Math.min(window, 2 ** 31 - 1) : 0))}
}
