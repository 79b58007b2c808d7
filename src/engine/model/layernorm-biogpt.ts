// BioGPT (Microsoft's biomedical GPT, BioGptForCausalLM): OPT's pre-LN block and learned positions read from row p + 2
// under token embeddings scaled by sqrt(hidden_size), a final layer_norm and a tied output_projection. Its config.json
// read as transformers 5.18's BioGptConfig reads it; its checkpoint names for layernorm-family.ts.
import {ModelLoadError} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {LayerNormModelFields} from './layernorm-family.js'

export const BIOGPT = 'BioGptForCausalLM'
/** BioGptLearnedPositionalEmbedding keeps max_position_embeddings + 2 rows and reads position p from row p + 2. */
const POSITION_OFFSET = 2

type Json = Record<string, unknown>

export const BIOGPT_LAYER_PARTS: Record<string, string> = {input_layernorm: 'self_attn_layer_norm', post_attention_layernorm: 'final_layer_norm',
  'self_attn.q_proj': 'self_attn.q_proj', 'self_attn.k_proj': 'self_attn.k_proj', 'self_attn.v_proj': 'self_attn.v_proj', 'self_attn.o_proj': 'self_attn.out_proj',
  'mlp.fc1': 'fc1', 'mlp.fc2': 'fc2'}
export const BIOGPT_TOP_LEVEL = {prefix: 'biogpt.', layers: 'layers', names: {embed_tokens: 'embed_tokens', embed_positions: 'embed_positions', norm: 'layer_norm'}}
/** BioGptForCausalLM's head, outside the base model. */
export const BIOGPT_HEAD = 'output_projection.weight'

/** BioGptConfig's keys with its defaults (BioGPT's 347M sizes, exact gelu, scaled embeddings, tied). */
export function parseBioGptConfig(config: Json, source: string): LayerNormModelFields {
  const {integer, flag} = configReader(config, BIOGPT, source)
  const hidden = integer('hidden_size', 1024), heads = integer('num_attention_heads', 16)
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: "hidden_size" ${hidden} is not divisible by "num_attention_heads" ${heads}.`)
  const headDim = hidden / heads
  // The backends lay heads out in rotary pairs; said here, it names the config rather than failing in the backend.
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: the head size (hidden_size ${hidden} / ${heads} num_attention_heads = ${headDim}) must be even.`)
  const positions = integer('max_position_embeddings', 1024)
  return {
    ...layerNormBase(config, BIOGPT),
    embeddingScale: flag('scale_embedding', true) ? Math.sqrt(hidden) : 1,
    vocabSize: integer('vocab_size', 42384), hiddenSize: hidden, intermediateSize: integer('intermediate_size', 4096), numLayers: integer('num_hidden_layers', 24),
    numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: positions,
    // BioGPT's LayerNorms are nn.LayerNorm(hidden_size): eps 1e-5; its layer_norm_eps (1e-12) is read by no module.
    rmsNormEps: 1e-5,
    hiddenAct: transformersActivation(config.hidden_act ?? 'gelu', 'hidden_act', source), tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000,
    attentionBias: true,
    layerNorm: {...LAYERNORM_DEFAULTS, learnedPositions: positions + POSITION_OFFSET, positionOffset: POSITION_OFFSET},
  }
}
