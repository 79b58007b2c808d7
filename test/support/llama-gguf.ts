// Builds small llama-architecture GGUF files with seeded-random F32 weights and a generated vocabulary, for loader tests.
import {SeededRandom} from '../../src/engine/model/seeded-random.js'
import {TOKENIZER_FAMILIES, type TokenizerFamilyName} from '../../src/engine/model/tokenizer-families.js'
import {definedEntries, ggufBytes, type GgufEntry, type GgufFileOptions, type GgufTensorSpec} from './gguf-file.js'

export interface LlamaGgufShape {
  vocabSize: number
  hiddenSize: number
  numLayers: number
  numHeads: number
  numKvHeads: number
  intermediateSize: number
  contextLength: number
  /** Defaults to hiddenSize / numHeads. */
  headDim?: number
  tied?: boolean
}

export const SMALL_GGUF_SHAPE: LlamaGgufShape = {vocabSize: 320, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, contextLength: 64}

/** llama.cpp's token types: 1 normal, 3 control, 6 byte. */
const NORMAL = 1
const CONTROL = 3
const BYTE = 6

/** A family's generated tokenizer as GGUF tokenizer metadata ("llama" with scores for Llama 2, "gpt2" with merges otherwise). */
export function familyVocabMetadata(familyName: TokenizerFamilyName, vocabSize: number, pre = 'default'): Record<string, GgufEntry> {
  const family = TOKENIZER_FAMILIES[familyName]
  const json = family.buildTokenizerJson(vocabSize, 0) as {model: {vocab: Record<string, number>; merges: string[]}}
  const tokens: string[] = new Array(vocabSize)
  for (const [token, id] of Object.entries(json.model.vocab)) tokens[id] = token
  const types = tokens.map((token, id) => (id < family.specialTokens.length ? CONTROL : /^<0x[0-9A-F]{2}>$/.test(token) ? BYTE : NORMAL))
  const ids: Record<string, GgufEntry> = {'tokenizer.ggml.eos_token_id': {type: 'u32', value: family.specialTokens.indexOf(family.eosToken)}}
  if (family.bosToken !== null) ids['tokenizer.ggml.bos_token_id'] = {type: 'u32', value: family.specialTokens.indexOf(family.bosToken)}
  const template: Record<string, GgufEntry> = {'tokenizer.chat_template': {type: 'string', value: family.chatTemplate}}
  if (familyName === 'llama2') {
    // SentencePiece ranks merges by the merged piece's score: earlier merges score higher.
    const scores = tokens.map(() => 0)
    json.model.merges.forEach((merge, rank) => (scores[json.model.vocab[merge.replace(' ', '')]!] = -(rank + 1)))
    return {
      'tokenizer.ggml.model': {type: 'string', value: 'llama'},
      'tokenizer.ggml.tokens': {type: 'strings', value: tokens},
      'tokenizer.ggml.scores': {type: 'f32s', value: scores},
      'tokenizer.ggml.token_type': {type: 'i32s', value: types},
      ...ids,
      ...template,
    }
  }
  return {
    'tokenizer.ggml.model': {type: 'string', value: 'gpt2'},
    'tokenizer.ggml.pre': {type: 'string', value: pre},
    'tokenizer.ggml.tokens': {type: 'strings', value: tokens},
    'tokenizer.ggml.token_type': {type: 'i32s', value: types},
    'tokenizer.ggml.merges': {type: 'strings', value: json.model.merges},
    ...ids,
    ...template,
  }
}

/** The llama.* metadata of a shape. */
export function llamaMetadata(shape: LlamaGgufShape): Record<string, GgufEntry> {
  const headDim = shape.headDim ?? shape.hiddenSize / shape.numHeads
  return {
    'general.architecture': {type: 'string', value: 'llama'},
    'llama.context_length': {type: 'u32', value: shape.contextLength},
    'llama.embedding_length': {type: 'u32', value: shape.hiddenSize},
    'llama.block_count': {type: 'u32', value: shape.numLayers},
    'llama.feed_forward_length': {type: 'u32', value: shape.intermediateSize},
    'llama.attention.head_count': {type: 'u32', value: shape.numHeads},
    'llama.attention.head_count_kv': {type: 'u32', value: shape.numKvHeads},
    'llama.attention.key_length': {type: 'u32', value: headDim},
    'llama.rope.dimension_count': {type: 'u32', value: headDim},
    'llama.rope.freq_base': {type: 'f32', value: 10000},
    'llama.attention.layer_norm_rms_epsilon': {type: 'f32', value: 1e-5},
  }
}

/** Seeded-random F32 tensors of a shape under their GGUF names (ggml dims: columns first). */
export function llamaTensors(shape: LlamaGgufShape, seed = 0): GgufTensorSpec[] {
  const random = new SeededRandom(seed)
  const headDim = shape.headDim ?? shape.hiddenSize / shape.numHeads
  const matrix = (name: string, rows: number, cols: number): GgufTensorSpec => ({
    name, dims: [cols, rows], data: Buffer.from(random.normals(rows * cols, 0, 1 / Math.sqrt(cols)).buffer),
  })
  const vector = (name: string, size: number): GgufTensorSpec => ({name, dims: [size], data: Buffer.from(random.normals(size, 1, 0.1).buffer)})
  const {hiddenSize: hidden, intermediateSize: ff, vocabSize} = shape
  const tensors = [matrix('token_embd.weight', vocabSize, hidden), vector('output_norm.weight', hidden)]
  if (!shape.tied) tensors.push(matrix('output.weight', vocabSize, hidden))
  for (let layer = 0; layer < shape.numLayers; layer++) {
    const blk = `blk.${layer}`
    tensors.push(
      vector(`${blk}.attn_norm.weight`, hidden),
      matrix(`${blk}.attn_q.weight`, shape.numHeads * headDim, hidden),
      matrix(`${blk}.attn_k.weight`, shape.numKvHeads * headDim, hidden),
      matrix(`${blk}.attn_v.weight`, shape.numKvHeads * headDim, hidden),
      matrix(`${blk}.attn_output.weight`, hidden, shape.numHeads * headDim),
      vector(`${blk}.ffn_norm.weight`, hidden),
      matrix(`${blk}.ffn_gate.weight`, ff, hidden),
      matrix(`${blk}.ffn_up.weight`, ff, hidden),
      matrix(`${blk}.ffn_down.weight`, hidden, ff),
    )
  }
  return tensors
}

/** A whole llama GGUF file: shape metadata, a family's vocabulary, random weights; `metadata` entries override (undefined deletes). */
export function llamaGgufBytes(
  shape: LlamaGgufShape = SMALL_GGUF_SHAPE,
  options: {family?: TokenizerFamilyName; pre?: string; metadata?: Record<string, GgufEntry | undefined>; tensors?: GgufTensorSpec[]; file?: GgufFileOptions} = {},
): Buffer {
  const metadata: Record<string, GgufEntry | undefined> = {
    ...llamaMetadata(shape),
    ...familyVocabMetadata(options.family ?? 'llama2', shape.vocabSize, options.pre),
    ...options.metadata,
  }
  return ggufBytes(definedEntries(metadata), {...options.file, tensors: options.tensors ?? llamaTensors(shape)})
}
