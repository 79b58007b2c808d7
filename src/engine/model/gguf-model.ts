// Loads a llama-architecture GGUF file as a model: config from metadata, tensors under their HF names, tokenizer and chat template.
import {basename} from 'node:path'
import {ModelLoadError} from '../errors.js'
import {readGguf, type GgufFile, type GgufValue} from './gguf-file.js'
import {tokenizerFromGguf} from './gguf-tokenizer.js'
import type {LoadedModel} from './load-model.js'
import {selectModelTensors} from './load-model.js'
import type {ModelConfig} from './model-config.js'
import type {TensorDtype, TensorInfo} from './safetensors.js'

/** Architectures whose GGUF tensors follow llama's names and layout (llama.cpp also writes Mistral as llama). */
const LLAMA_ARCHITECTURES = new Set(['llama', 'mistral'])
const FLOAT_TYPES: Record<string, TensorDtype> = {F32: 'F32', F16: 'F16', BF16: 'BF16'}
const BLOCK_TYPES: Record<string, NonNullable<TensorInfo['blockFormat']>> = {Q8_0: 'q8_0', Q4_0: 'q4_0', Q4_K: 'q4_k', Q6_K: 'q6_k'}

/** GGUF tensor name -> HF name, for the global tensors and the per-layer suffixes. */
const GLOBAL_NAMES: Record<string, string> = {'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight'}
const LAYER_NAMES: Record<string, string> = {
  'attn_norm.weight': 'input_layernorm.weight', 'attn_q.weight': 'self_attn.q_proj.weight', 'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight', 'attn_output.weight': 'self_attn.o_proj.weight', 'ffn_norm.weight': 'post_attention_layernorm.weight',
  'ffn_gate.weight': 'mlp.gate_proj.weight', 'ffn_up.weight': 'mlp.up_proj.weight', 'ffn_down.weight': 'mlp.down_proj.weight',
}

export function isGgufPath(path: string): boolean {
  return path.toLowerCase().endsWith('.gguf')
}

function hfName(ggufName: string): string | null {
  if (GLOBAL_NAMES[ggufName]) return GLOBAL_NAMES[ggufName]
  const match = /^blk\.(\d+)\.(.+)$/.exec(ggufName)
  const suffix = match ? LAYER_NAMES[match[2]] : undefined
  return match && suffix ? `model.layers.${match[1]}.${suffix}` : null
}

function ggufConfig(file: GgufFile, vocabSize: number): ModelConfig {
  const m = file.metadata
  const arch = String(m.get('general.architecture'))
  if (!LLAMA_ARCHITECTURES.has(arch)) {
    throw new ModelLoadError(`${file.path}: GGUF architecture "${arch}" is not supported; pagedllm loads llama-architecture GGUF files (Llama, Mistral).`)
  }
  if (file.tensors.some((t) => t.name === 'rope_freqs.weight')) {
    throw new ModelLoadError(`${file.path}: per-frequency rope factors (rope_freqs.weight, Llama 3.1 scaling) are not supported in GGUF files; load the Hugging Face checkpoint instead.`)
  }
  const get = (key: string): GgufValue | undefined => m.get(`${arch}.${key}`)
  const required = (key: string): number => {
    const value = get(key)
    if (value === undefined) throw new ModelLoadError(`${file.path}: GGUF metadata ${arch}.${key} is missing`)
    return Number(value)
  }
  const hiddenSize = required('embedding_length')
  const numHeads = required('attention.head_count')
  const numKvHeads = Number(get('attention.head_count_kv') ?? numHeads)
  const headDim = Number(get('attention.key_length') ?? hiddenSize / numHeads)
  const ropeType = get('rope.scaling.type')
  const ropeFactor = Number(get('rope.scaling.factor') ?? 1)
  if (ropeType !== undefined && ropeType !== 'none' && ropeType !== 'linear') {
    throw new ModelLoadError(`${file.path}: rope scaling "${String(ropeType)}" is not supported (none or linear)`)
  }
  const optionalId = (key: string) => (m.get(key) === undefined ? null : Number(m.get(key)))
  const eos = optionalId('tokenizer.ggml.eos_token_id')
  return {
    architecture: 'LlamaForCausalLM',
    modelType: 'llama',
    vocabSize,
    hiddenSize,
    intermediateSize: required('feed_forward_length'),
    numLayers: required('block_count'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: Number(get('attention.layer_norm_rms_epsilon') ?? 1e-5),
    ropeTheta: Number(get('rope.freq_base') ?? 10000),
    ropeScaling: ropeType === 'linear' && ropeFactor !== 1 ? {type: 'linear', factor: ropeFactor} : {type: 'none'},
    tieWordEmbeddings: !file.tensors.some((t) => t.name === 'output.weight'),
    attentionBias: false,
    maxPositionEmbeddings: required('context_length'),
    bosTokenId: optionalId('tokenizer.ggml.bos_token_id'),
    eosTokenIds: eos === null ? [] : [eos],
    torchDtype: 'gguf',
  }
}

function ggufTensors(file: GgufFile, config: ModelConfig): TensorInfo[] {
  const tensors: TensorInfo[] = []
  for (const t of file.tensors) {
    const name = hfName(t.name)
    if (name === null) continue
    const dtype = FLOAT_TYPES[t.type]
    const blockFormat = BLOCK_TYPES[t.type]
    if ((!dtype && !blockFormat) || t.nbytes === null) {
      throw new ModelLoadError(`${file.path}: tensor ${t.name} is ${t.type}; pagedllm loads F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K tensors.`)
    }
    const ropeHeads = t.name.endsWith('.attn_q.weight') ? config.numHeads : t.name.endsWith('.attn_k.weight') ? config.numKvHeads : 0
    tensors.push({
      name, dtype: dtype ?? 'F32', shape: t.shape, path: file.path, offset: t.offset, nbytes: t.nbytes,
      ...(blockFormat ? {blockFormat} : {}), ...(ropeHeads ? {ropeInterleavedHeads: ropeHeads} : {}),
    })
  }
  return selectModelTensors(config, tensors, file.path)
}

/** The float format the file's matrices are in, for --dtype auto (quantized files compute on their blocks regardless). */
export function ggufFloatFormat(tensors: TensorInfo[]): 'f32' | 'f16' | 'bf16' {
  const matrices = tensors.filter((t) => t.shape.length === 2 && !t.blockFormat)
  if (matrices.length > 0 && matrices.every((t) => t.dtype === 'F16')) return 'f16'
  if (matrices.length > 0 && matrices.every((t) => t.dtype === 'BF16')) return 'bf16'
  return 'f32'
}

export function loadGgufModel(path: string): LoadedModel {
  const file = readGguf(path)
  const tokenizer = tokenizerFromGguf(file.metadata)
  const embedding = file.tensors.find((t) => t.name === 'token_embd.weight')
  if (!embedding) throw new ModelLoadError(`${file.path}: no token_embd.weight tensor`)
  const config = ggufConfig(file, Number(file.metadata.get(`${String(file.metadata.get('general.architecture'))}.vocab_size`) ?? embedding.shape[0]))
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ModelLoadError(`${file.path}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${config.vocabSize}.`)
  }
  const tensors = ggufTensors(file, config)
  return {
    dir: file.path,
    name: basename(file.path, '.gguf'),
    config,
    tensors,
    tokenizer,
    generationConfig: {eosTokenIds: tokenizer.eosTokenIds},
    defaultWeightFormat: ggufFloatFormat(tensors),
  }
}
