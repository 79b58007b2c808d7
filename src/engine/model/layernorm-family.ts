// The LayerNorm-family architectures (OPT, GPT-NeoX/Pythia, GPT-2; Phi, StableLM, StarCoder2, GPT-J in layernorm-more.ts):
// their config.json read as transformers' config classes read it, and their checkpoint tensors renamed to the engine's
// names (native/cpu/layernorm_family.cpp runs them).
import {ModelLoadError} from '../errors.js'
import {ALIBI_ARCHITECTURES, ALIBI_LAYER_PARTS, ALIBI_TOP_LEVEL, alibiLayerPart, parseAlibiFamilyConfig} from './alibi-family.js'
import {configReader, LAYERNORM_DEFAULTS, layerNormBase, layerNormRotary} from './layernorm-config-reader.js'
import {transformersActivation} from './activations.js'
import {MORE_LAYERNORM_ARCHITECTURES, MORE_LAYER_PARTS, MORE_TOP_LEVEL, parseMoreLayerNormConfig} from './layernorm-more.js'
import {BIOGPT, BIOGPT_HEAD} from './layernorm-biogpt.js'
import {OPENAI_GPT} from './layernorm-openai-gpt.js'
import type {ModelConfig} from './model-config.js'
import type {TensorInfo} from './safetensors.js'

/** What sets a LayerNorm-family model apart from the RMSNorm families; ModelConfig.layerNorm holds it. */
export interface LayerNormFeatures {
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
  /** XGLM: the learnedPositions rows are sinusoids the native chain computes as tokens read them (no checkpoint tensor), paddingRow's zero (null: none). */
  sinusoidalPositions?: {paddingRow: number | null}
  /** GPT-NeoX: rotary embeddings over the first rotaryDim values of each head (rotate_half within them); 0: none. */
  rotaryDim: number
  /** OPT's word_embed_proj_dim when it differs from hidden_size (project_in / project_out); 0 otherwise. */
  embedDim: number
  /** Biases on q/k/v, on o_proj and on the MLP's linears (OPT's enable_bias sets all three; StableLM: q/k/v only, by use_qkv_bias; GPT-J: the MLP only). */
  qkvBias: boolean
  outputBias: boolean
  mlpBias: boolean
  /** Phi, GPT-J, StableLM's parallel residual: one input_layernorm feeds both, x + attention(ln(x)) + mlp(ln(x)). */
  sharedNorm: boolean
  /** StableLM: a gated MLP, down(act(gate(x)) * up(x)), instead of fc2(act(fc1(x))). */
  gatedMlp: boolean
  /** LayerNorm over each q and k head before rotary: 'shared' one [headDim] weight and bias for every head (Phi), 'per-head' each head its own weight, no bias (StableLM). */
  headNorm: 'none' | 'shared' | 'per-head'
  /** Phi, GPT-J: lm_head adds a bias to the logits. */
  headBias: boolean
  /** GPT-J: rotary pairs (2i, 2i+1) of the first rotaryDim values (rotate_every_two); the loader reorders q and k rows to rotate_half order. */
  interleavedRotary: boolean
  /** GPT-2's scale_attn_by_inverse_layer_idx: layer l's attention scores also divided by l + 1. */
  attentionScaleByLayer: boolean
  /** ALiBi (BLOOM, Falcon-RW, MPT: alibi-family.ts): one slope per query head, the model's scale on the bias folded in. */
  alibiSlopes?: number[]
  /** BLOOM: word_embeddings_layernorm on the token embeddings. */
  embedNorm?: boolean
  /** MPT: LayerNorms with a weight and no bias (false). */
  normBias?: boolean
  /** MPT's clip_qkv: q, k and v clamped to [-clipQkv, clipQkv] after the projection. */
  clipQkv?: number
  /** A fused qkv stored per group as [queriesPerGroup q heads | k | v] (BLOOM, Falcon), reordered at load to [all q | all k | all v]. */
  qkvGroups?: {groups: number; queriesPerGroup: number}
  /** CodeGen: each qkvGroups group is [q | v | k]. */
  qkvValueFirst?: boolean
}

export const LAYERNORM_ARCHITECTURES = ['OPTForCausalLM', 'GPTNeoXForCausalLM', 'GPT2LMHeadModel', ...MORE_LAYERNORM_ARCHITECTURES, ...ALIBI_ARCHITECTURES] as const

export function isLayerNormArchitecture(architecture: string): boolean {
  return (LAYERNORM_ARCHITECTURES as readonly string[]).includes(architecture)
}

type Json = Record<string, unknown>
/** The fields parseModelConfig fills for every family (token ids, dtype) are left to it. */
export type LayerNormModelFields = Omit<ModelConfig, 'bosTokenId' | 'eosTokenIds' | 'torchDtype'>

/** Reads a LayerNorm-family config.json with its config class's defaults; refuses what the kernels lack, by key. */
export function parseLayerNormConfig(config: Json, architecture: string, source: string): LayerNormModelFields {
  if ((MORE_LAYERNORM_ARCHITECTURES as readonly string[]).includes(architecture)) return parseMoreLayerNormConfig(config, architecture, source)
  if ((ALIBI_ARCHITECTURES as readonly string[]).includes(architecture)) return parseAlibiFamilyConfig(config, architecture, source)
  const {integer, number, flag, refuse} = configReader(config, architecture, source)
  const base = layerNormBase(config, architecture)
  const features = {...LAYERNORM_DEFAULTS}
  let sizes: {vocabSize: number; hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number; maxPositionEmbeddings: number}
  let rest: {rmsNormEps: number; hiddenAct: ModelConfig['hiddenAct']; tieWordEmbeddings: boolean; ropeTheta?: number; notes?: string[]}
  if (architecture === 'OPTForCausalLM') {
    sizes = {vocabSize: integer('vocab_size', 50272), hiddenSize: integer('hidden_size', 768), intermediateSize: integer('ffn_dim', 3072), numLayers: integer('num_hidden_layers', 12),
      numHeads: integer('num_attention_heads', 12), maxPositionEmbeddings: integer('max_position_embeddings', 2048)}
    const preNorm = flag('do_layer_norm_before', true)
    const embedDim = integer('word_embed_proj_dim', sizes.hiddenSize)
    const bias = flag('enable_bias', true)
    Object.assign(features, {qkvBias: bias, outputBias: bias, mlpBias: bias, normAffine: flag('layer_norm_elementwise_affine', true), postNorm: !preNorm,
      finalNorm: preNorm && !flag('_remove_final_layer_norm', false), learnedPositions: sizes.maxPositionEmbeddings + 2, positionOffset: 2,
      embedDim: embedDim === sizes.hiddenSize ? 0 : embedDim})
    rest = {rmsNormEps: 1e-5, hiddenAct: transformersActivation(config.activation_function ?? 'relu', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', true)}
  } else if (architecture === 'GPTNeoXForCausalLM') {
    sizes = {vocabSize: integer('vocab_size', 50432), hiddenSize: integer('hidden_size', 6144), intermediateSize: integer('intermediate_size', 24576), numLayers: integer('num_hidden_layers', 44),
      numHeads: integer('num_attention_heads', 64), maxPositionEmbeddings: integer('max_position_embeddings', 2048)}
    if (config.attention_bias === false) throw new ModelLoadError(`${source}: attention_bias=false is not supported for ${architecture} (its MLP keeps biases; the kernels take biases on every linear or none).`)
    const rotary = layerNormRotary(config, architecture, source, sizes.hiddenSize / sizes.numHeads, sizes.maxPositionEmbeddings, 0.25, {theta: 'rotary_emb_base', fraction: 'rotary_pct'})
    Object.assign(features, {parallelResidual: flag('use_parallel_residual', true), rotaryDim: rotary.rotaryDim})
    sizes.maxPositionEmbeddings = rotary.maxPositionEmbeddings
    base.ropeScaling = rotary.ropeScaling
    rest = {rmsNormEps: number('layer_norm_eps', 1e-5), hiddenAct: transformersActivation(config.hidden_act ?? 'gelu', 'hidden_act', source), tieWordEmbeddings: flag('tie_word_embeddings', false), ropeTheta: rotary.ropeTheta,
      ...(rotary.notes.length > 0 ? {notes: rotary.notes} : {})}
  } else {
    sizes = {vocabSize: integer('vocab_size', 50257), hiddenSize: integer('n_embd', 768), intermediateSize: 0, numLayers: integer('n_layer', 12), numHeads: integer('n_head', 12),
      maxPositionEmbeddings: integer('n_positions', 1024)}
    sizes.intermediateSize = config.n_inner == null ? 4 * sizes.hiddenSize : integer('n_inner')
    // reorder_and_upcast_attn computes the scores in float32 with the scale folded in first: the same sums the engine makes.
    flag('reorder_and_upcast_attn', false)
    refuse('add_cross_attention', 'an encoder-decoder cross-attention')
    Object.assign(features, {learnedPositions: sizes.maxPositionEmbeddings, attentionScaleByLayer: flag('scale_attn_by_inverse_layer_idx', false)})
    if (!flag('scale_attn_weights', true)) base.attentionScale = 1 // unscaled scores
    rest = {rmsNormEps: number('layer_norm_epsilon', 1e-5), hiddenAct: transformersActivation(config.activation_function ?? 'gelu_new', 'activation_function', source), tieWordEmbeddings: flag('tie_word_embeddings', true)}
  }
  if (sizes.hiddenSize % sizes.numHeads !== 0) throw new ModelLoadError(`${source}: the hidden size (${sizes.hiddenSize}) is not divisible by the number of attention heads (${sizes.numHeads}).`)
  const headDim = sizes.hiddenSize / sizes.numHeads
  // The backends lay heads out in rotary pairs; said here, it names the config rather than failing in the backend.
  if (headDim % 2 !== 0) throw new ModelLoadError(`${source}: the head size (hidden size ${sizes.hiddenSize} / ${sizes.numHeads} attention heads = ${headDim}) must be even.`)
  return {...base, ...sizes, ...rest, ropeTheta: rest.ropeTheta ?? 10000, numKvHeads: sizes.numHeads, headDim, attentionBias: features.qkvBias, layerNorm: features}
}

/** The engine's tensors for a LayerNorm-family config, with their shapes ([out, in] matrices, as the loader wants them). */
export function layerNormTensorShapes(config: ModelConfig): {name: string; shape: number[]}[] {
  const ln = config.layerNorm!
  const {hiddenSize: hidden, intermediateSize: inter, vocabSize, numHeads, numKvHeads, headDim} = config
  const embed = ln.embedDim || hidden
  const qkv = (numHeads + 2 * numKvHeads) * headDim
  const shapes: {name: string; shape: number[]}[] = [{name: 'model.embed_tokens.weight', shape: [vocabSize, embed]}]
  const linear = (name: string, out: number, input: number, bias: boolean) => {
    shapes.push({name: `${name}.weight`, shape: [out, input]})
    if (bias) shapes.push({name: `${name}.bias`, shape: [out]})
  }
  const norm = (name: string) => {
    if (ln.normAffine) shapes.push({name: `${name}.weight`, shape: [hidden]}, ...(ln.normBias === false ? [] : [{name: `${name}.bias`, shape: [hidden]}]))
  }
  if (ln.embedNorm) norm('model.embed_norm')
  if (ln.learnedPositions > 0 && !ln.sinusoidalPositions) shapes.push({name: 'model.embed_positions.weight', shape: [ln.learnedPositions, hidden]})
  if (ln.embedDim > 0) shapes.push({name: 'model.project_in.weight', shape: [hidden, embed]}, {name: 'model.project_out.weight', shape: [embed, hidden]})
  for (let layer = 0; layer < config.numLayers; layer++) {
    const p = `model.layers.${layer}`
    norm(`${p}.input_layernorm`)
    if (LAYER_PARTS[config.architecture]!['self_attn.q_proj']) {
      for (const [part, heads] of [['q', numHeads], ['k', numKvHeads], ['v', numKvHeads]] as const) linear(`${p}.self_attn.${part}_proj`, heads * headDim, hidden, ln.qkvBias)
    } else {
      linear(`${p}.self_attn.qkv_proj`, qkv, hidden, ln.qkvBias)
    }
    for (const [part, heads] of [['q', numHeads], ['k', numKvHeads]] as const) {
      if (ln.headNorm === 'shared') shapes.push({name: `${p}.self_attn.${part}_norm.weight`, shape: [headDim]}, {name: `${p}.self_attn.${part}_norm.bias`, shape: [headDim]})
      for (let h = 0; ln.headNorm === 'per-head' && h < heads; h++) shapes.push({name: `${p}.self_attn.${part}_norm.${h}.weight`, shape: [headDim]})
    }
    linear(`${p}.self_attn.o_proj`, hidden, numHeads * headDim, ln.outputBias)
    if (!ln.sharedNorm) norm(`${p}.post_attention_layernorm`)
    if (ln.gatedMlp) {
      for (const part of ['gate', 'up']) linear(`${p}.mlp.${part}_proj`, inter, hidden, ln.mlpBias)
      linear(`${p}.mlp.down_proj`, hidden, inter, ln.mlpBias)
    } else {
      linear(`${p}.mlp.fc1`, inter, hidden, ln.mlpBias)
      linear(`${p}.mlp.fc2`, hidden, inter, ln.mlpBias)
    }
  }
  if (ln.finalNorm) norm('model.norm')
  if (!config.tieWordEmbeddings) shapes.push({name: 'lm_head.weight', shape: [vocabSize, embed]})
  if (ln.headBias) shapes.push({name: 'lm_head.bias', shape: [vocabSize]})
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
  /** BLOOM's and Falcon's query_key_value: per group [queries q heads | k | v]. */
  qkvGroups?: {groups: number; queriesPerGroup: number}
  /** GPT-J's q / k: rotary pairs (2i, 2i+1) of each head's first rotaryDim rows, reordered at load to rotate_half order; CodeGen's fused qkv: of its first `rows` (q and k). */
  ropeInterleaved?: {heads: number; dims: number; rows?: number}
}

const LAYER_PARTS: Record<string, Record<string, string>> = {
  OPTForCausalLM: {input_layernorm: 'self_attn_layer_norm', post_attention_layernorm: 'final_layer_norm', 'self_attn.q_proj': 'self_attn.q_proj',
    'self_attn.k_proj': 'self_attn.k_proj', 'self_attn.v_proj': 'self_attn.v_proj', 'self_attn.o_proj': 'self_attn.out_proj', 'mlp.fc1': 'fc1', 'mlp.fc2': 'fc2'},
  GPTNeoXForCausalLM: {input_layernorm: 'input_layernorm', post_attention_layernorm: 'post_attention_layernorm', 'self_attn.qkv_proj': 'attention.query_key_value',
    'self_attn.o_proj': 'attention.dense', 'mlp.fc1': 'mlp.dense_h_to_4h', 'mlp.fc2': 'mlp.dense_4h_to_h'},
  GPT2LMHeadModel: {input_layernorm: 'ln_1', post_attention_layernorm: 'ln_2', 'self_attn.qkv_proj': 'attn.c_attn', 'self_attn.o_proj': 'attn.c_proj', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj'},
  ...MORE_LAYER_PARTS,
  ...ALIBI_LAYER_PARTS,
}
const TOP_LEVEL: Record<string, {prefix: string; layers: string; names: Record<string, string>}> = {
  OPTForCausalLM: {prefix: 'model.decoder.', layers: 'layers', names: {embed_tokens: 'embed_tokens', embed_positions: 'embed_positions', project_in: 'project_in', project_out: 'project_out', norm: 'final_layer_norm'}},
  GPTNeoXForCausalLM: {prefix: 'gpt_neox.', layers: 'layers', names: {embed_tokens: 'embed_in', norm: 'final_layer_norm'}},
  GPT2LMHeadModel: {prefix: 'transformer.', layers: 'h', names: {embed_tokens: 'wte', embed_positions: 'wpe', norm: 'ln_f'}},
  ...MORE_TOP_LEVEL,
  ...ALIBI_TOP_LEVEL,
}

/** Heads stored under their own names (GPT-NeoX's embed_out; transformers 5 saves it as lm_head, found too). */
const HEAD_NAMES: Record<string, string> = {GPTNeoXForCausalLM: 'embed_out.weight', [BIOGPT]: BIOGPT_HEAD}
/** Those whose linears are transformers' Conv1D, stored [in, out]. */
const CONV1D_ARCHITECTURES = ['GPT2LMHeadModel', OPENAI_GPT]

function checkpointPlace(config: ModelConfig, engineName: string): CheckpointPlace {
  const arch = config.architecture
  const top = TOP_LEVEL[arch]!
  if (engineName.startsWith('lm_head.')) return {prefix: '', name: HEAD_NAMES[arch] ?? engineName}
  const layer = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(engineName)
  if (layer) {
    const [, index, part, kind] = layer
    // StableLM's per-head norms: q_norm.<h> is q_layernorm.norms.<h>.
    const perHead = /^self_attn\.([qk])_norm\.(\d+)$/.exec(part!)
    const stored = perHead ? `self_attn.${perHead[1]}_layernorm.norms.${perHead[2]}` : ALIBI_LAYER_PARTS[arch] ? alibiLayerPart(config, part!) : LAYER_PARTS[arch]![part!]
    const ln = config.layerNorm!
    const rotated = ln.interleavedRotary && (part === 'self_attn.q_proj' || part === 'self_attn.k_proj')
    const qkvHeads = config.numHeads + config.numKvHeads
    return {
      prefix: top.prefix, name: `${top.layers}.${index}.${stored}.${kind}`,
      transposed: CONV1D_ARCHITECTURES.includes(arch) && kind === 'weight' && !part!.endsWith('layernorm'),
      qkvHeads: part === 'self_attn.qkv_proj' && (arch === 'GPTNeoXForCausalLM' || (arch === 'GPTBigCodeForCausalLM' && config.numKvHeads > 1)) ? config.numHeads : undefined,
      qkvGroups: part === 'self_attn.qkv_proj' ? ln.qkvGroups : undefined,
      ropeInterleaved: rotated ? {heads: part === 'self_attn.q_proj' ? config.numHeads : config.numKvHeads, dims: ln.rotaryDim}
        : ln.interleavedRotary && part === 'self_attn.qkv_proj' ? {heads: qkvHeads, dims: ln.rotaryDim, rows: qkvHeads * config.headDim} : undefined,
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
  // A hostile layer count must not make us list billions of expected tensors: every layer has at least 4 (q/k/v or qkv, o, two MLP matrices).
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
    return {...found, name, shape, ...(place.transposed ? {transposed: true} : {}), ...(place.qkvHeads ? {qkvInterleavedHeads: place.qkvHeads} : {}),
      ...(place.qkvGroups ? {qkvInterleavedHeads: place.qkvGroups.groups, qkvQueriesPerGroup: place.qkvGroups.queriesPerGroup, ...(config.layerNorm!.qkvValueFirst ? {qkvValueFirst: true} : {})} : {}),
      ...(place.ropeInterleaved ? {ropeInterleavedHeads: place.ropeInterleaved.heads, ropeInterleavedDims: place.ropeInterleaved.dims,
        ...(place.ropeInterleaved.rows ? {ropeInterleavedRows: place.ropeInterleaved.rows} : {})} : {})}
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
