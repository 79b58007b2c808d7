// XGLM (Meta's multilingual XGLM 564M to 7.5B): OPT's pre-LN block (q/k/v/out_proj and fc1/fc2 with biases, LayerNorms of
// eps 1e-5) under token embeddings scaled by sqrt(d_model) and fixed sinusoidal positions read from row p + 2, a final
// layer_norm and a tied head. Its config.json read as transformers 5.18's XGLMConfig reads it; its checkpoint names for
// layernorm-family.ts.
import {ModelLoadError, quotedValue} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {LayerNormModelFields} from './layernorm-family.js'

export const XGLM = 'XGLMForCausalLM'
/** XGLMSinusoidalPositionalEmbedding reads position p from row p + 2 of a table of max_position_embeddings + 2 rows. */
const POSITION_OFFSET = 2

type Json = Record<string, unknown>

export const XGLM_LAYER_PARTS: Record<string, string> = {input_layernorm: 'self_attn_layer_norm', post_attention_layernorm: 'final_layer_norm',
  'self_attn.q_proj': 'self_attn.q_proj', 'self_attn.k_proj': 'self_attn.k_proj', 'self_attn.v_proj': 'self_attn.v_proj', 'self_attn.o_proj': 'self_attn.out_proj',
  'mlp.fc1': 'fc1', 'mlp.fc2': 'fc2'}
export const XGLM_TOP_LEVEL = {prefix: 'model.', layers: 'layers', names: {embed_tokens: 'embed_tokens', norm: 'layer_norm'}}

/** XGLMConfig's keys (d_model / attention_heads / num_layers, or the hidden_size / num_attention_heads / num_hidden_layers its attribute_map takes) with its defaults. */
export function parseXglmConfig(config: Json, source: string): LayerNormModelFields {
  const {integer, flag, refuse, aliased} = configReader(config, XGLM, source)
  const hidden = aliased('d_model', 'hidden_size', 1024), heads = aliased('attention_heads', 'num_attention_heads', 16)
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: "d_model" ${hidden} is not divisible by "attention_heads" ${heads}.`)
  const headDim = hidden / heads
  // The backends lay heads out in rotary pairs; said here, it names the config rather than failing in the backend.
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: the head size (d_model ${hidden} / ${heads} attention_heads = ${headDim}) must be even.`)
  // transformers' sinusoids divide by d_model / 2 - 1: a d_model below 4 has no frequencies.
  if (hidden < 4) throw new ModelLoadError(`${source}: "d_model" ${hidden} is too small for XGLM's sinusoidal positions (at least 4).`)
  refuse('add_cross_attention', 'an encoder-decoder cross-attention')
  const positions = integer('max_position_embeddings', 2048)
  const rows = positions + POSITION_OFFSET
  // The backends index positions with 32-bit integers.
  if (rows > 2 ** 31 - 1) throw new ModelLoadError(`${source}: "max_position_embeddings" ${positions} is beyond the positions the engine indexes (at most ${2 ** 31 - 1 - POSITION_OFFSET}).`)
  return {
    ...layerNormBase(config, XGLM),
    embeddingScale: flag('scale_embedding', true) ? Math.sqrt(hidden) : 1,
    vocabSize: integer('vocab_size', 256008), hiddenSize: hidden, intermediateSize: integer('ffn_dim', 4096), numLayers: aliased('num_layers', 'num_hidden_layers', 24),
    numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: positions,
    // XGLM's LayerNorms are nn.LayerNorm(d_model): eps 1e-5 whatever config.json says.
    rmsNormEps: 1e-5,
    hiddenAct: transformersActivation(config.activation_function ?? 'gelu', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000,
    attentionBias: true,
    layerNorm: {...LAYERNORM_DEFAULTS, learnedPositions: rows, positionOffset: POSITION_OFFSET, sinusoidalPositions: {paddingRow: paddingRow('pad_token_id' in config ? config.pad_token_id : 1, rows, source)}},
  }
}

/** The table row transformers zeroes: pad_token_id's (XGLMConfig's default 1), which only position pad_token_id - 2 reads. */
function paddingRow(raw: unknown, rows: number, source: string): number | null {
  if (raw === null) return null
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw >= rows) {
    throw new ModelLoadError(`${source}: "pad_token_id" ${quotedValue(raw)} must be null or a row of XGLM's ${rows} sinusoidal positions (it is zeroed there).`)
  }
  return raw
}
