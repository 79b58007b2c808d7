// CodeGen (Salesforce CodeGen 1 / 2 mono, multi, nl): GPT-J's parallel block (one ln_1 for attention and MLP, biases on
// fc_in / fc_out and lm_head, rotate_every_two rotary over the first rotary_dim values of each head) with q, v and k fused
// in one qkv_proj stored in its TPU model-parallel layout: 4 row blocks, each [q | v | k] of a quarter of the heads.
// Its config.json read as transformers 5.18's CodeGenConfig reads it; its checkpoint names for layernorm-family.ts.
import {ModelLoadError} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {LayerNormModelFields} from './layernorm-family.js'

export const CODEGEN = 'CodeGenForCausalLM'
/** transformers' CodeGenAttention splits qkv_proj's output into mp_num = 4 blocks, whatever the checkpoint. */
export const CODEGEN_QKV_BLOCKS = 4

type Json = Record<string, unknown>

export const CODEGEN_LAYER_PARTS: Record<string, string> = {input_layernorm: 'ln_1', 'self_attn.qkv_proj': 'attn.qkv_proj', 'self_attn.o_proj': 'attn.out_proj',
  'mlp.fc1': 'mlp.fc_in', 'mlp.fc2': 'mlp.fc_out'}
export const CODEGEN_TOP_LEVEL = {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'wte', norm: 'ln_f'}}

/** CodeGenConfig's keys (n_embd, n_head, n_layer, n_positions, or the names its attribute_map takes; rotary_dim, n_inner) with its defaults. */
export function parseCodeGenConfig(config: Json, source: string): LayerNormModelFields {
  const {integer, number, flag, aliased} = configReader(config, CODEGEN, source)
  const hidden = aliased('n_embd', 'hidden_size', 4096), heads = aliased('n_head', 'num_attention_heads', 16)
  if (hidden % heads !== 0) throw new ModelLoadError(`${source}: "n_embd" ${hidden} is not divisible by "n_head" ${heads}.`)
  // transformers reshapes each of the 4 blocks into n_head / 4 heads; another count fails there.
  if (heads % CODEGEN_QKV_BLOCKS !== 0) throw new ModelLoadError(`${source}: "n_head" ${heads} must be a multiple of ${CODEGEN_QKV_BLOCKS} for ${CODEGEN} (qkv_proj holds ${CODEGEN_QKV_BLOCKS} model-parallel blocks of heads).`)
  const headDim = hidden / heads
  // rotary_dim null rotates with sin/cos of the whole n_embd against each head: transformers fails unless one head spans it.
  if (config.rotary_dim === null) throw new ModelLoadError(`${source}: "rotary_dim" null is not supported for ${CODEGEN} (its rotary then spans n_embd, not a head).`)
  const rotaryDim = integer('rotary_dim', 64)
  if (rotaryDim % 2 !== 0 || rotaryDim > headDim) throw new ModelLoadError(`${source}: "rotary_dim" ${rotaryDim} must be even and at most the head size ${headDim}.`)
  const positions = aliased('n_positions', 'max_position_embeddings', 2048)
  return {
    ...layerNormBase(config, CODEGEN),
    vocabSize: integer('vocab_size', 50400), hiddenSize: hidden, intermediateSize: config.n_inner == null ? 4 * hidden : integer('n_inner'), numLayers: aliased('n_layer', 'num_hidden_layers', 28),
    numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: positions, rmsNormEps: number('layer_norm_epsilon', 1e-5),
    hiddenAct: transformersActivation(config.activation_function ?? 'gelu_new', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', false), ropeTheta: 10000,
    attentionBias: false,
    // No q/k/v or out_proj biases; one ln_1 for the parallel block; biases on fc_in / fc_out and on lm_head.
    // qkv_proj's 4 blocks regrouped at load as groups of one (n_head / 4)-head q, v and k each.
    layerNorm: {...LAYERNORM_DEFAULTS, qkvBias: false, outputBias: false, parallelResidual: true, sharedNorm: true, headBias: true, rotaryDim, interleavedRotary: true,
      qkvGroups: {groups: CODEGEN_QKV_BLOCKS, queriesPerGroup: 1}, qkvValueFirst: true},
  }
}
