// The LayerNorm-family architectures (OPT, GPT-NeoX/Pythia, GPT-2): their config.json read as transformers' config
// classes read it, and their checkpoint tensors renamed to the engine's names (native/cpu/layernorm_family.cpp runs them).
import {ModelLoadError} from '../errors.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

/** What sets a LayerNorm-family model apart from the RMSNorm families; ModelConfig.layerNorm holds it. */
export interface LayerNormFeatures {
  /** OPT's enable_bias: biases on q/k/v, o_proj, fc1 and fc2 (GPT-NeoX and GPT-2 always have them). */
  linearBias: boolean
  /** OPT's layer_norm_elementwise_affine: false means LayerNorms without weight and bias. */
  normAffine: boolean
  /** OPT-350m (do_layer_norm_before false): each LayerNorm after its residual add, and no final norm. */
  postNorm: boolean
  finalNorm: boolean
  /** GPT-NeoX: x + attention(ln1(x)) + mlp(ln2(x)). */
  parallelResidual: boolean
  /** Rows of the learned position embeddings (OPT: max_position_embeddings + 2; GPT-2: n_positions); 0: none. */
  learnedPositions: number
  /** OPT reads position p's embedding from row p + 2. */
  positionOffset: number
  /** GPT-NeoX: rotary embeddings over the first rotaryDim values of each head (rotate_half within them); 0: none. */
  rotaryDim: number
  /** OPT's word_embed_proj_dim when it differs from hidden_size (project_in / project_out); 0 otherwise. */
  embedDim: number
}

export const LAYERNORM_ARCHITECTURES = ['OPTForCausalLM', 'GPTNeoXForCausalLM', 'GPT2LMHeadModel'] as const

export function isLayerNormArchitecture(architecture: string): boolean {
  return (LAYERNORM_ARCHITECTURES as readonly string[]).includes(architecture)
}

type Json = Record<string, unknown>
/** The fields parseModelConfig fills for every family (token ids, dtype) are left to it. */
export type LayerNormModelFields = Omit<ModelConfig, 'bosTokenId' | 'eosTokenIds' | 'torchDtype'>

/** Reads an OPT, GPT-NeoX or GPT-2 config.json with its config class's defaults; refuses what the kernels lack, by key. */
export function parseLayerNormConfig(config: Json, architecture: string, source: string): LayerNormModelFields {
  const integer = (key: string, fallback?: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw new ModelLoadError(`${source} is missing "${key}" (a positive integer) for ${architecture}.`)
    return value
  }
  const number = (key: string, fallback: number): number => {
    const value = config[key] ?? fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new ModelLoadError(`${source}: "${key}" must be a non-negative number.`)
    return value
  }
  const flag = (key: string, fallback: boolean): boolean => {
    const value = config[key] ?? fallback
    if (typeof value !== 'boolean') throw new ModelLoadError(`${source}: "${key}" must be true or false.`)
    return value
  }
  const refuse = (key: string, why: string) => {
    if (config[key] === true) throw new ModelLoadError(`${source}: ${key}=true is not supported for ${architecture} (${why}).`)
  }
  // What the RMSNorm families' switches say for all three: none of them apply.
  const base = {architecture, modelType: typeof config.model_type === 'string' ? config.model_type : architecture, ropeScaling: {type: 'none'} as const,
    qkNorm: false, normWeightOffset: 0, embeddingScale: 1, fusedProjections: false, sandwichNorms: false, attentionScale: 0, attnLogitSoftcap: 0, finalLogitSoftcap: 0}
  const features = {linearBias: true, normAffine: true, postNorm: false, finalNorm: true, parallelResidual: false, learnedPositions: 0, positionOffset: 0, rotaryDim: 0, embedDim: 0}
  let sizes: {vocabSize: number; hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number; maxPositionEmbeddings: number}
  let rest: {rmsNormEps: number; hiddenAct: ModelConfig['hiddenAct']; tieWordEmbeddings: boolean; ropeTheta?: number}
  if (architecture === 'OPTForCausalLM') {
    sizes = {vocabSize: integer('vocab_size', 50272), hiddenSize: integer('hidden_size', 768), intermediateSize: integer('ffn_dim', 3072), numLayers: integer('num_hidden_layers', 12),
      numHeads: integer('num_attention_heads', 12), maxPositionEmbeddings: integer('max_position_embeddings', 2048)}
    const preNorm = flag('do_layer_norm_before', true)
    const embedDim = integer('word_embed_proj_dim', sizes.hiddenSize)
    Object.assign(features, {linearBias: flag('enable_bias', true), normAffine: flag('layer_norm_elementwise_affine', true), postNorm: !preNorm,
      finalNorm: preNorm && !flag('_remove_final_layer_norm', false), learnedPositions: sizes.maxPositionEmbeddings + 2, positionOffset: 2,
      embedDim: embedDim === sizes.hiddenSize ? 0 : embedDim})
    rest = {rmsNormEps: 1e-5, hiddenAct: plainActivation(config.activation_function ?? 'relu', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', true)}
  } else if (architecture === 'GPTNeoXForCausalLM') {
    sizes = {vocabSize: integer('vocab_size', 50432), hiddenSize: integer('hidden_size', 6144), intermediateSize: integer('intermediate_size', 24576), numLayers: integer('num_hidden_layers', 44),
      numHeads: integer('num_attention_heads', 64), maxPositionEmbeddings: integer('max_position_embeddings', 2048)}
    if (config.attention_bias === false) throw new ModelLoadError(`${source}: attention_bias=false is not supported for ${architecture} (its MLP keeps biases; the kernels take biases on every linear or none).`)
    // transformers 5 keeps rotary_emb_base / rotary_pct in rope_parameters; older configs have them top level.
    const rope = (config.rope_parameters ?? config.rope_scaling ?? {}) as Json
    if (typeof rope !== 'object' || rope === null) throw new ModelLoadError(`${source}: "rope_parameters" must be an object.`)
    const ropeType = rope.rope_type ?? rope.type ?? 'default'
    if (ropeType !== 'default') throw new ModelLoadError(`${source}: rope type ${JSON.stringify(ropeType)} is not supported for ${architecture} (plain rotary embeddings only).`)
    const theta = rope.rope_theta ?? config.rotary_emb_base ?? config.rope_theta ?? 10000
    const fraction = rope.partial_rotary_factor ?? config.rotary_pct ?? config.partial_rotary_factor ?? 0.25
    if (typeof theta !== 'number' || !(theta > 0)) throw new ModelLoadError(`${source}: "rotary_emb_base" must be a positive number.`)
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) throw new ModelLoadError(`${source}: "rotary_pct" must be in (0, 1].`)
    const headDim = sizes.hiddenSize / sizes.numHeads
    const rotaryDim = Math.floor(headDim * fraction)
    if (rotaryDim % 2 !== 0) throw new ModelLoadError(`${source}: rotary_pct ${fraction} rotates ${rotaryDim} of ${headDim} values per head; an odd count is not supported.`)
    Object.assign(features, {parallelResidual: flag('use_parallel_residual', true), rotaryDim})
    rest = {rmsNormEps: number('layer_norm_eps', 1e-5), hiddenAct: plainActivation(config.hidden_act ?? 'gelu', 'hidden_act', source), tieWordEmbeddings: flag('tie_word_embeddings', false), ropeTheta: theta}
  } else {
    sizes = {vocabSize: integer('vocab_size', 50257), hiddenSize: integer('n_embd', 768), intermediateSize: 0, numLayers: integer('n_layer', 12), numHeads: integer('n_head', 12),
      maxPositionEmbeddings: integer('n_positions', 1024)}
    sizes.intermediateSize = config.n_inner == null ? 4 * sizes.hiddenSize : integer('n_inner')
    refuse('scale_attn_by_inverse_layer_idx', 'scores divided by the layer number')
    refuse('reorder_and_upcast_attn', 'a reordered, upcast attention')
    refuse('add_cross_attention', 'an encoder-decoder cross-attention')
    if (config.scale_attn_weights === false) throw new ModelLoadError(`${source}: scale_attn_weights=false is not supported for ${architecture} (unscaled attention scores).`)
    Object.assign(features, {learnedPositions: sizes.maxPositionEmbeddings})
    rest = {rmsNormEps: number('layer_norm_epsilon', 1e-5), hiddenAct: plainActivation(config.activation_function ?? 'gelu_new', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', true)}
  }
  if (sizes.hiddenSize % sizes.numHeads !== 0) throw new ModelLoadError(`${source}: the hidden size (${sizes.hiddenSize}) is not divisible by the number of attention heads (${sizes.numHeads}).`)
  const headDim = sizes.hiddenSize / sizes.numHeads
  return {...base, ...sizes, ...rest, ropeTheta: rest.ropeTheta ?? 10000, numKvHeads: sizes.numHeads, headDim, attentionBias: features.linearBias, layerNorm: features}
}

/** transformers' ACT2FN names the plain MLP runs: gelu (erf), gelu_new / gelu_pytorch_tanh (tanh form), relu. */
function plainActivation(raw: unknown, key: string, source: string): ModelConfig['hiddenAct'] {
  if (raw === 'gelu' || raw === 'relu') return raw
  if (raw === 'gelu_new' || raw === 'gelu_pytorch_tanh') return 'gelu_pytorch_tanh'
  throw new ModelLoadError(`${source}: ${key} "${String(raw)}" is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu).`)
}

/** The engine's tensors for a LayerNorm-family config, with their shapes ([out, in] matrices, as the loader wants them). */
export function layerNormTensorShapes(config: ModelConfig): {name: string; shape: number[]}[] {
  const ln = config.layerNorm!
  const {hiddenSize: hidden, intermediateSize: inter, vocabSize, numHeads, headDim} = config
  const embed = ln.embedDim || hidden
  const qkv = 3 * numHeads * headDim
  const shapes: {name: string; shape: number[]}[] = [{name: 'model.embed_tokens.weight', shape: [vocabSize, embed]}]
  const linear = (name: string, out: number, input: number) => {
    shapes.push({name: `${name}.weight`, shape: [out, input]})
    if (ln.linearBias) shapes.push({name: `${name}.bias`, shape: [out]})
  }
  const norm = (name: string) => {
    if (ln.normAffine) shapes.push({name: `${name}.weight`, shape: [hidden]}, {name: `${name}.bias`, shape: [hidden]})
  }
  if (ln.learnedPositions > 0) shapes.push({name: 'model.embed_positions.weight', shape: [ln.learnedPositions, hidden]})
  if (ln.embedDim > 0) shapes.push({name: 'model.project_in.weight', shape: [hidden, embed]}, {name: 'model.project_out.weight', shape: [embed, hidden]})
  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`
    norm(`${p}.input_layernorm`)
    if (config.architecture === 'OPTForCausalLM') for (const part of ['q', 'k', 'v']) linear(`${p}.self_attn.${part}_proj`, numHeads * headDim, hidden)
    else linear(`${p}.self_attn.qkv_proj`, qkv, hidden)
    linear(`${p}.self_attn.o_proj`, hidden, numHeads * headDim)
    norm(`${p}.post_attention_layernorm`)
    linear(`${p}.mlp.fc1`, inter, hidden)
    linear(`${p}.mlp.fc2`, hidden, inter)
  }
  if (ln.finalNorm) norm('model.norm')
  if (!config.tieWordEmbeddings) shapes.push({name: 'lm_head.weight', shape: [vocabSize, embed]})
  return shapes
}

/** Where an engine tensor lies in the architecture's checkpoint: its name there (after the base model's prefix) and how it is stored. */
interface CheckpointPlace {
  prefix: string
  name: string
  /** GPT-2's Conv1D keeps [in, out]. */
  transposed?: boolean
  /** GPT-NeoX's query_key_value: per head [q | k | v]. */
  qkvHeads?: number
}

const LAYER_PARTS: Record<string, Record<string, string>> = {
  OPTForCausalLM: {input_layernorm: 'self_attn_layer_norm', post_attention_layernorm: 'final_layer_norm', 'self_attn.q_proj': 'self_attn.q_proj',
    'self_attn.k_proj': 'self_attn.k_proj', 'self_attn.v_proj': 'self_attn.v_proj', 'self_attn.o_proj': 'self_attn.out_proj', 'mlp.fc1': 'fc1', 'mlp.fc2': 'fc2'},
  GPTNeoXForCausalLM: {input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm', 'self_attn.qkv_proj': 'attention.query_key_value',
    'self_attn.o_proj': 'attention.dense', 'mlp.fc1': 'mlp.dense_h_to_4h', 'mlp.fc2': 'mlp.dense_4h_to_h'},
  GPT2LMHeadModel: {input_layernorm: 'ln_1', post_attention_layernorm: 'ln_2', 'self_attn.qkv_proj': 'attn.c_attn', 'self_attn.o_proj': 'attn.c_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj'},
}
const TOP_LEVEL: Record<string, {prefix: string; layers: string; names: Record<string, string>}> = {
  OPTForCausalLM: {prefix: 'model.decoder.', layers: 'layers', names: {embed_tokens: 'embed_tokens', embed_positions: 'embed_positions', project_in: 'project_in', project_out: 'project_out', norm: 'final_layer_norm'}},
  GPTNeoXForCausalLM: {prefix: 'gpt_neox.', layers: 'layers', names: {embed_tokens: 'embed_in', norm: 'final_layer_norm'}},
  GPT2LMHeadModel: {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'wte', embed_positions: 'wpe', norm: 'ln_f'}},
}

function checkpointPlace(config: ModelConfig, engineName: string): CheckpointPlace {
  const arch = config.architecture
  const top = TOP_LEVEL[arch]!
  if (engineName === 'lm_head.weight') return {prefix: '', name: arch === 'GPTNeoXForCausalLM' ? 'embed_out.weight' : 'lm_head.weight'}
  const layer = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(engineName)
  if (layer) {
    const [, index, part, kind] = layer
    return {
      prefix: top.prefix, name: `${top.layers}.${index}.${LAYER_PARTS[arch]![part!]}.${kind}`,
      transposed: arch === 'GPT2LMHeadModel' && kind === 'weight' && !part!.endsWith('layernorm'),
      qkvHeads: arch === 'GPTNeoXForCausalLM' && part === 'self_attn.qkv_proj' ? config.numHeads : undefined,
    }
  }
  const [, module, kind] = /^model\.([a-z_]+)\.(weight|bias)$/.exec(engineName)!
  return {prefix: top.prefix, name: `${top.names[module!]}.${kind}`}
}

/**
 * The checkpoint's tensors under the engine's names (layerNormTensorShapes), each found with or without its base model's
 * prefix (transformers' save_pretrained writes "model.decoder.", "gpt_neox.", "transformer."; older checkpoints leave
 * it out) and, for transformers 5's GPT-NeoX, its head as lm_head; unknown tensors (GPT-2's attention mask buffers) are dropped.
 */
export function layerNormTensors(config: ModelConfig, tensors: TensorInfo[], dir: string): TensorInfo[] {
  // A hostile layer count must not make us list billions of expected tensors: every layer has at least 4 (q/k/v or qkv, o, fc1, fc2).
  if (config.numLayers * 4 > tensors.length) {
    throw new ModelLoadError(`The config says ${config.numLayers} layers of at least 4 tensors each, but the checkpoint in ${dir} holds only ${tensors.length} tensors.`)
  }
  const byName = new Map(tensors.map((t) => [t.name, t]))
  return layerNormTensorShapes(config).map(({name, shape}) => {
    const place = checkpointPlace(config, name)
    // A GGUF file's tensors come under the engine's names already (gguf-layernorm.ts), stored as the loader wants them;
    // no checkpoint's own names take that form ("lm_head.weight", the one shared, needs nothing done).
    const asIs = byName.get(name)
    if (asIs) return checkedShape(asIs, shape)
    const candidates = [place.prefix + place.name, place.name, ...(name === 'lm_head.weight' ? ['lm_head.weight'] : [])]
    const found = candidates.map((candidate) => byName.get(candidate)).find((t) => t !== undefined)
    const stored = place.transposed ? [...shape].reverse() : shape
    if (!found) {
      const hint = name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : ''
      throw new ModelLoadError(`Tensor ${place.prefix + place.name} is missing from the checkpoint in ${dir}${hint}; expected shape [${stored.join(', ')}].`)
    }
    checkedShape(found, stored)
    return {...found, name, shape, ...(place.transposed ? {transposed: true} : {}), ...(place.qkvHeads ? {qkvInterleavedHeads: place.qkvHeads} : {})}
  })
}

function checkedShape(tensor: TensorInfo, shape: number[]): TensorInfo {
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
    throw new ModelLoadError(`Tensor ${tensor.name} has shape [${tensor.shape.join(', ')}], but config.json implies [${shape.join(', ')}] (in ${tensor.path}).`)
  }
  return tensor
}

/** A checkpoint of this config as the architecture's own save_pretrained writes it, for test models: names, stored shapes, and the engine's name of each. */
export function layerNormCheckpointShapes(config: ModelConfig): {name: string; shape: number[]; engineName: string}[] {
  return layerNormTensorShapes(config).map(({name, shape}) => {
    const place = checkpointPlace(config, name)
    return {name: place.prefix + place.name, shape: place.transposed ? [...shape].reverse() : shape, engineName: name}
  })
}
