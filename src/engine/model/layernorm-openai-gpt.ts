// GPT-1 (OpenAIGPTLMHeadModel, openai-community/openai-gpt): GPT-2's Conv1D weights and learned positions in a post-LN
// block, ln_1(x + attn(x)) then ln_2(n + mlp(n)), with no final norm and a tied head. Its config.json read as
// transformers 5.18's OpenAIGPTConfig reads it; its checkpoint names for layernorm-family.ts.
import {ModelLoadError, quotedValue} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase} from './layernorm-config-reader.js'
import type {LayerNormModelFields} from './layernorm-family.js'
import type {ModelConfig} from './model-config.js'

export const OPENAI_GPT = 'OpenAIGPTLMHeadModel'

type Json = Record<string, unknown>

export const OPENAI_GPT_LAYER_PARTS: Record<string, string> = {input_layernorm: 'ln_1', post_attention_layernorm: 'ln_2', 'self_attn.qkv_proj': 'attn.c_attn',
  'self_attn.o_proj': 'attn.c_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj'}
export const OPENAI_GPT_TOP_LEVEL = {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'tokens_embed', embed_positions: 'positions_embed'}}

/** modeling_openai.py's own ACT_FNS (its "gelu" is gelu_new's tanh form); transformers fails on any other afn. */
const ACT_FNS: Record<string, ModelConfig['hiddenAct']> = {gelu: 'gelu_pytorch_tanh', relu: 'relu', silu: 'silu', swish: 'silu'}

/** OpenAIGPTConfig's keys (n_embd, n_head, n_layer, n_positions, or the names its attribute_map takes; afn) with its defaults; the MLP is always 4 x n_embd wide. */
export function parseOpenAiGptConfig(config: Json, source: string): LayerNormModelFields {
  const {integer, number, flag, aliased} = configReader(config, OPENAI_GPT, source)
  const hidden = aliased('n_embd', 'hidden_size', 768), heads = aliased('n_head', 'num_attention_heads', 12)
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: "n_embd" ${hidden} is not divisible by "n_head" ${heads}.`)
  const headDim = hidden / heads
  // The backends lay heads out in rotary pairs; said here, it names the config rather than failing in the backend.
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: the head size (n_embd ${hidden} / ${heads} n_head = ${headDim}) must be even.`)
  const afn = config.afn ?? 'gelu'
  const hiddenAct = typeof afn === 'string' ? ACT_FNS[afn] : undefined
  if (hiddenAct === undefined) throw new ModelLoadError(`${source}: "afn" ${quotedValue(afn)} is not supported for ${OPENAI_GPT} (its ACT_FNS: ${Object.keys(ACT_FNS).join(', ')}).`)
  const positions = aliased('n_positions', 'max_position_embeddings', 512)
  return {
    ...layerNormBase(config, OPENAI_GPT),
    vocabSize: integer('vocab_size', 40478), hiddenSize: hidden, intermediateSize: 4 * hidden, numLayers: aliased('n_layer', 'num_hidden_layers', 12), numHeads: heads, numKvHeads: heads, headDim,
    maxPositionEmbeddings: positions, rmsNormEps: number('layer_norm_epsilon', 1e-5), hiddenAct, tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000,
    attentionBias: true,
    layerNorm: {...LAYERNORM_DEFAULTS, postNorm: true, finalNorm: false, learnedPositions: positions},
  }
}
