// Phi (1, 1.5, 2), StableLM, StarCoder2, GPT-J and GPTBigCode (StarCoder 1, SantaCoder; GPT-Neo: layernorm-gpt-neo.ts; CodeGen: layernorm-codegen.ts; Persimmon: layernorm-persimmon.ts; XGLM: layernorm-xglm.ts; GPT-1: layernorm-openai-gpt.ts; BioGPT: layernorm-biogpt.ts): their config.json read as transformers 5.18's config classes read it
// (every key they read honoured or refused by name), and their checkpoints' tensor names (layernorm-family.ts maps them).
import {ModelLoadError, quotedValue} from '../errors.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase, layerNormRotary} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import type {RopeScaling} from './rope-scaling.js'
import type {LayerNormFeatures, LayerNormModelFields} from './layernorm-family.js'
import {GPT_NEO, GPT_NEO_LAYER_PARTS, GPT_NEO_TOP_LEVEL, parseGptNeoConfig} from './layernorm-gpt-neo.js'
import {CODEGEN, CODEGEN_LAYER_PARTS, CODEGEN_TOP_LEVEL, parseCodeGenConfig} from './layernorm-codegen.js'
import {parsePersimmonConfig, PERSIMMON, PERSIMMON_LAYER_PARTS, PERSIMMON_TOP_LEVEL} from './layernorm-persimmon.js'
import {parseXglmConfig, XGLM, XGLM_LAYER_PARTS, XGLM_TOP_LEVEL} from './layernorm-xglm.js'
import {OPENAI_GPT, OPENAI_GPT_LAYER_PARTS, OPENAI_GPT_TOP_LEVEL, parseOpenAiGptConfig} from './layernorm-openai-gpt.js'
import {BIOGPT, BIOGPT_LAYER_PARTS, BIOGPT_TOP_LEVEL, parseBioGptConfig} from './layernorm-biogpt.js'

export const MORE_LAYERNORM_ARCHITECTURES = ['PhiForCausalLM', 'StableLmForCausalLM', 'Starcoder2ForCausalLM', 'GPTJForCausalLM', 'GPTBigCodeForCausalLM', GPT_NEO, CODEGEN, PERSIMMON, XGLM, OPENAI_GPT, BIOGPT] as const

type Json = Record<string, unknown>

/** Engine part -> the part's name in the checkpoint's layers (StableLM's per-head q/k norms are mapped in layernorm-family.ts). */
const ATTENTION = {'self_attn.q_proj': 'self_attn.q_proj', 'self_attn.k_proj': 'self_attn.k_proj', 'self_attn.v_proj': 'self_attn.v_proj', 'self_attn.o_proj': 'self_attn.o_proj'}
export const MORE_LAYER_PARTS: Record<string, Record<string, string>> = {
  PhiForCausalLM: {...ATTENTION, input_layernorm: 'input_layernorm', 'self_attn.o_proj': 'self_attn.dense', 'self_attn.q_norm': 'self_attn.q_layernorm',
    'self_attn.k_norm': 'self_attn.k_layernorm', 'mlp.fc1': 'mlp.fc1', 'mlp.fc2': 'mlp.fc2'},
  StableLmForCausalLM: {...ATTENTION, input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm', 'mlp.gate_proj': 'mlp.gate_proj',
    'mlp.up_proj': 'mlp.up_proj', 'mlp.down_proj': 'mlp.down_proj'},
  Starcoder2ForCausalLM: {...ATTENTION, input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj'},
  GPTJForCausalLM: {input_layernorm: 'ln_1', 'self_attn.q_proj': 'attn.q_proj', 'self_attn.k_proj': 'attn.k_proj', 'self_attn.v_proj': 'attn.v_proj',
    'self_attn.o_proj': 'attn.out_proj', 'mlp.fc1': 'mlp.fc_in', 'mlp.fc2': 'mlp.fc_out'},
  // c_attn: [all q | k | v] with multi_query (one KV head), else per head [q | k | v] (GPT-NeoX's layout: layernorm-family.ts).
  GPTBigCodeForCausalLM: {input_layernorm: 'ln_1', post_attention_layernorm: 'ln_2', 'self_attn.qkv_proj': 'attn.c_attn', 'self_attn.o_proj': 'attn.c_proj',
    'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj'},
  [GPT_NEO]: GPT_NEO_LAYER_PARTS,
  [CODEGEN]: CODEGEN_LAYER_PARTS,
  [PERSIMMON]: PERSIMMON_LAYER_PARTS,
  [XGLM]: XGLM_LAYER_PARTS,
  [OPENAI_GPT]: OPENAI_GPT_LAYER_PARTS,
  [BIOGPT]: BIOGPT_LAYER_PARTS,
}
export const MORE_TOP_LEVEL: Record<string, {prefix: string; layers: string; names: Record<string, string>}> = {
  PhiForCausalLM: {prefix: 'model.', layers: 'layers', names: {embed_tokens: 'embed_tokens', norm: 'final_layernorm'}},
  StableLmForCausalLM: {prefix: 'model.', layers: 'layers', names: {embed_tokens: 'embed_tokens', norm: 'norm'}},
  Starcoder2ForCausalLM: {prefix: 'model.', layers: 'layers', names: {embed_tokens: 'embed_tokens', norm: 'norm'}},
  GPTJForCausalLM: {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'wte', norm: 'ln_f'}},
  GPTBigCodeForCausalLM: {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'wte', embed_positions: 'wpe', norm: 'ln_f'}},
  [GPT_NEO]: GPT_NEO_TOP_LEVEL,
  [CODEGEN]: CODEGEN_TOP_LEVEL,
  [PERSIMMON]: PERSIMMON_TOP_LEVEL,
  [XGLM]: XGLM_TOP_LEVEL,
  [OPENAI_GPT]: OPENAI_GPT_TOP_LEVEL,
  [BIOGPT]: BIOGPT_TOP_LEVEL,
}

/** Reads a Phi, StableLM, StarCoder2, GPT-J or GPTBigCode config.json (dropout rates are ignored: inference has none). */
export function parseMoreLayerNormConfig(config: Json, architecture: string, source: string): LayerNormModelFields {
  if (architecture === GPT_NEO) return parseGptNeoConfig(config, source)
  if (architecture === CODEGEN) return parseCodeGenConfig(config, source)
  if (architecture === PERSIMMON) return parsePersimmonConfig(config, source)
  if (architecture === XGLM) return parseXglmConfig(config, source)
  if (architecture === OPENAI_GPT) return parseOpenAiGptConfig(config, source)
  if (architecture === BIOGPT) return parseBioGptConfig(config, source)
  const {integer, number, flag, refuse} = configReader(config, architecture, source)
  const features: LayerNormFeatures = {...LAYERNORM_DEFAULTS}
  const headDimOf = (hidden: number, heads: number): number => {
    if (hidden % heads !== 0) throw new ModelLoadError(`${source}: the hidden size (${hidden}) is not divisible by the number of attention heads (${heads}).`)
    return hidden / heads
  }
  const kvHeads = (heads: number, fallback: number): number => {
    const kv = integer('num_key_value_heads', fallback)
    if (heads % kv !== 0) throw new ModelLoadError(`${source}: num_attention_heads (${heads}) is not a multiple of num_key_value_heads (${kv}).`)
    return kv
  }
  let fields: Omit<LayerNormModelFields, keyof ReturnType<typeof layerNormBase> | 'layerNorm' | 'attentionBias'>
  let ropeScaling: RopeScaling = {type: 'none'}
  if (architecture === 'GPTBigCodeForCausalLM') {
    const hidden = integer('n_embd', 768), heads = integer('n_head', 12), positions = integer('n_positions', 1024)
    refuse('add_cross_attention', 'an encoder-decoder cross-attention')
    if (config.scale_attn_weights === false) throw new ModelLoadError(`${source}: scale_attn_weights=false is not supported for ${architecture} (unscaled attention scores).`)
    // attention_softmax_in_fp32 / scale_attention_softmax_in_fp32 only say where half-precision runs upcast; this path is fp32 throughout.
    Object.assign(features, {learnedPositions: positions})
    fields = {vocabSize: integer('vocab_size', 50257), hiddenSize: hidden, intermediateSize: config.n_inner == null ? 4 * hidden : integer('n_inner'), numLayers: integer('n_layer', 12),
      numHeads: heads, numKvHeads: flag('multi_query', true) ? 1 : heads, headDim: headDimOf(hidden, heads), maxPositionEmbeddings: positions,
      rmsNormEps: number('layer_norm_epsilon', 1e-5), hiddenAct: transformersActivation(config.activation_function ?? 'gelu_pytorch_tanh', 'activation_function', source),
      tieWordEmbeddings: flag('tie_word_embeddings', true), ropeTheta: 10000}
  } else if (architecture === 'GPTJForCausalLM') {
    const hidden = integer('n_embd', 4096), heads = integer('n_head', 16), headDim = headDimOf(hidden, heads)
    if (config.rotary_dim === null) throw new ModelLoadError(`${source}: rotary_dim=null is not supported for ${architecture} (transformers' rotary then spans the whole hidden size, not a head).`)
    const rotaryDim = integer('rotary_dim', 64)
    if (rotaryDim % 2 !== 0 || rotaryDim > headDim) throw new ModelLoadError(`${source}: rotary_dim ${rotaryDim} must be even and at most the head size ${headDim}.`)
    // GPT-J: no q/k/v or out_proj biases, one ln_1 for the parallel block, biases on fc_in / fc_out and on lm_head.
    Object.assign(features, {qkvBias: false, outputBias: false, parallelResidual: true, sharedNorm: true, headBias: true, rotaryDim, interleavedRotary: true})
    fields = {vocabSize: integer('vocab_size', 50400), hiddenSize: hidden, intermediateSize: config.n_inner == null ? 4 * hidden : integer('n_inner'), numLayers: integer('n_layer', 28),
      numHeads: heads, numKvHeads: heads, headDim, maxPositionEmbeddings: integer('n_positions', 2048), rmsNormEps: number('layer_norm_epsilon', 1e-5),
      hiddenAct: transformersActivation(config.activation_function ?? 'gelu_new', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', false), ropeTheta: 10000}
  } else {
    const defaults = {
      PhiForCausalLM: {vocab: 51200, hidden: 2048, inter: 8192, layers: 24, heads: 32, positions: 2048, act: 'gelu_new', fraction: 0.5, tied: false},
      StableLmForCausalLM: {vocab: 50304, hidden: 2560, inter: 6912, layers: 32, heads: 32, positions: 4096, act: 'silu', fraction: 0.25, tied: false},
      Starcoder2ForCausalLM: {vocab: 49152, hidden: 3072, inter: 12288, layers: 30, heads: 24, positions: 4096, act: 'gelu_pytorch_tanh', fraction: 1, tied: true},
    }[architecture]!
    const hidden = integer('hidden_size', defaults.hidden), heads = integer('num_attention_heads', defaults.heads)
    // Phi and StarCoder2 take a head_dim given in config.json (getattr); StableLM always divides.
    const headDim = architecture !== 'StableLmForCausalLM' && config.head_dim != null ? integer('head_dim') : headDimOf(hidden, heads)
    if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: head_dim ${headDim} must be even for ${architecture}.`)
    const numKvHeads = kvHeads(heads, architecture === 'Starcoder2ForCausalLM' ? 2 : architecture === 'StableLmForCausalLM' ? 32 : heads)
    const rotary = layerNormRotary(config, architecture, source, headDim, integer('max_position_embeddings', defaults.positions), defaults.fraction)
    const rawAct = config.hidden_act ?? defaults.act
    fields = {vocabSize: integer('vocab_size', defaults.vocab), hiddenSize: hidden, intermediateSize: integer('intermediate_size', defaults.inter),
      numLayers: integer('num_hidden_layers', defaults.layers), numHeads: heads, numKvHeads, headDim, maxPositionEmbeddings: rotary.maxPositionEmbeddings,
      rmsNormEps: number(architecture === 'Starcoder2ForCausalLM' ? 'norm_epsilon' : 'layer_norm_eps', 1e-5), hiddenAct: 'silu',
      tieWordEmbeddings: flag('tie_word_embeddings', defaults.tied), ropeTheta: rotary.ropeTheta, ...(rotary.notes.length > 0 ? {notes: rotary.notes} : {})}
    ropeScaling = rotary.ropeScaling
    Object.assign(features, {rotaryDim: rotary.rotaryDim})
    if (architecture === 'PhiForCausalLM') {
      const qkLayerNorm = flag('qk_layernorm', false)
      // transformers sizes q_layernorm by hidden_size / heads, whatever head_dim says.
      if (qkLayerNorm && headDim * heads !== hidden) throw new ModelLoadError(`${source}: qk_layernorm=true with head_dim ${headDim} is not supported for ${architecture} (its q/k norms are hidden_size / heads wide).`)
      Object.assign(features, {parallelResidual: true, sharedNorm: true, headBias: true, headNorm: qkLayerNorm ? 'shared' : 'none'})
      fields.hiddenAct = transformersActivation(rawAct, 'hidden_act', source)
    } else if (architecture === 'StableLmForCausalLM') {
      const parallel = flag('use_parallel_residual', false)
      Object.assign(features, {qkvBias: flag('use_qkv_bias', false), outputBias: false, mlpBias: false, gatedMlp: true, parallelResidual: parallel, sharedNorm: parallel,
        headNorm: flag('qk_layernorm', false) ? 'per-head' : 'none'})
      fields.hiddenAct = transformersActivation(rawAct, 'hidden_act', source)
    } else {
      const bias = flag('use_bias', true)
      Object.assign(features, {qkvBias: bias, outputBias: bias, mlpBias: bias})
      fields.hiddenAct = transformersActivation(rawAct, 'hidden_act', source)
      const window = slidingWindow(config.sliding_window, source)
      if (window > 0) fields.layerWindows = Array.from({length: fields.numLayers}, () => window)
    }
  }
  return {...layerNormBase(config, architecture), ...fields, ropeScaling, attentionBias: features.qkvBias, layerNorm: features}
}

/** StarCoder2's sliding_window (every layer; null: none): a query at p sees keys (p - window, p]. */
function slidingWindow(raw: unknown, source: string): number {
  if (raw == null) return 0
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw <= 0) throw new ModelLoadError(`${source}: "sliding_window" must be a positive integer or null, got ${quotedValue(raw)}.`)
  // A window past any context is full attention; the backends take windows as 32-bit integers.
  return Math.min(raw, 2 ** 31 - 1)
}
