// Writes a Llama/Qwen2/Qwen3/Gemma/Gemma 2/Gemma 3/Phi-3 HF checkpoint as a GGUF file, so llama.cpp can run the very same weights as a peer
// (what each architecture's file holds: gguf-export-layout.ts).
import {closeSync, existsSync, openSync, readFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {GGML_BLOCKS, GGML_TYPE_NAMES} from '../../engine/model/gguf-file.js'
import {ggufPreTokenizerName} from '../../engine/model/gguf-pre-tokenizers.js'
import {llama3RopeFactors} from '../../engine/model/llama3-rope.js'
import type {LoadedModel} from '../../engine/model/load-model.js'
import type {ModelConfig} from '../../engine/model/model-config.js'
import {readTensorFloat32} from '../../engine/model/safetensors.js'
import {nativeOps, type QuantizedFormat} from '../../engine/native.js'
import {GGUF_EXPORT_ARCHITECTURES, archExtras, layerTensorSpecs, normPlusOne, type ExportTensorSpec} from './gguf-export-layout.js'

// GGUF value types and ggml tensor types (from the GGUF specification).
const GGUF_UINT32 = 4
const GGUF_BOOL = 7
const GGUF_INT32 = 5
const GGUF_FLOAT32 = 6
const GGUF_STRING = 8
const GGUF_ARRAY = 9
/** ggml type id and block shape (values, bytes) of a format written here: the reader's tables (gguf-file.ts) say both. */
function ggmlType(format: GgufTensorFormat): {id: number; values: number; bytes: number} {
  const name = format.toUpperCase()
  const id = Number(Object.keys(GGML_TYPE_NAMES).find((key) => GGML_TYPE_NAMES[Number(key)] === name))
  return {id, ...GGML_BLOCKS[name]!}
}
/** f32/f16 files, or llama.cpp's q8_0, q4_0 and Q4_K_M (q4_k, with q6_k where q4KMediumMoreBits says) mixes. */
export const GGUF_FILE_FORMATS = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k'] as const
export type GgufFileFormat = (typeof GGUF_FILE_FORMATS)[number]
export type GgufTensorFormat = 'f32' | 'f16' | QuantizedFormat
const ALIGNMENT = 32

type MetadataValue = {type: 'bool'; value: boolean} | {type: 'u32' | 'i32' | 'f32'; value: number} | {type: 'string'; value: string} | {type: 'strings'; value: string[]} | {type: 'i32s' | 'f32s'; value: number[]}

/** Growable little-endian byte buffer for the header part of the file. */
class ByteWriter {
  private buffer = Buffer.alloc(1 << 20)
  length = 0

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return
    const bigger = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + extra))
    this.buffer.copy(bigger, 0, 0, this.length)
    this.buffer = bigger
  }
  u8(value: number): void {
    this.ensure(1)
    this.buffer.writeUInt8(value, this.length)
    this.length += 1
  }
  u32(value: number): void {
    this.ensure(4)
    this.buffer.writeUInt32LE(value, this.length)
    this.length += 4
  }
  i32(value: number): void {
    this.ensure(4)
    this.buffer.writeInt32LE(value, this.length)
    this.length += 4
  }
  u64(value: number): void {
    this.ensure(8)
    this.buffer.writeBigUInt64LE(BigInt(value), this.length)
    this.length += 8
  }
  f32(value: number): void {
    this.ensure(4)
    this.buffer.writeFloatLE(value, this.length)
    this.length += 4
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8')
    this.u64(bytes.length)
    this.ensure(bytes.length)
    bytes.copy(this.buffer, this.length)
    this.length += bytes.length
  }
  pad(alignment: number): void {
    const padding = (alignment - (this.length % alignment)) % alignment
    this.ensure(padding)
    this.buffer.fill(0, this.length, this.length + padding)
    this.length += padding
  }
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length)
  }
}

function writeMetadata(out: ByteWriter, key: string, entry: MetadataValue): void {
  out.string(key)
  switch (entry.type) {
    case 'bool':
      out.u32(GGUF_BOOL)
      out.u8(entry.value ? 1 : 0)
      break
    case 'u32':
      out.u32(GGUF_UINT32)
      out.u32(entry.value)
      break
    case 'i32':
      out.u32(GGUF_INT32)
      out.i32(entry.value)
      break
    case 'f32':
      out.u32(GGUF_FLOAT32)
      out.f32(entry.value)
      break
    case 'string':
      out.u32(GGUF_STRING)
      out.string(entry.value)
      break
    case 'strings':
      out.u32(GGUF_ARRAY)
      out.u32(GGUF_STRING)
      out.u64(entry.value.length)
      for (const item of entry.value) out.string(item)
      break
    case 'i32s':
      out.u32(GGUF_ARRAY)
      out.u32(GGUF_INT32)
      out.u64(entry.value.length)
      for (const item of entry.value) out.i32(item)
      break
    case 'f32s':
      out.u32(GGUF_ARRAY)
      out.u32(GGUF_FLOAT32)
      out.u64(entry.value.length)
      for (const item of entry.value) out.f32(item)
      break
  }
}

/**
 * llama.cpp applies RoPE to interleaved pairs (Meta's layout) while HF checkpoints use rotate_half,
 * so q/k rows are permuted: within each head, row (half * headDim/2 + i) moves to (2i + half).
 */
function permuteRopeRows(data: Float32Array, numHeads: number, rows: number, cols: number): Float32Array {
  const headDim = rows / numHeads
  const half = headDim / 2
  const out = new Float32Array(data.length)
  for (let head = 0; head < numHeads; head++) {
    for (let part = 0; part < 2; part++) {
      for (let i = 0; i < half; i++) {
        const from = head * headDim + part * half + i
        const to = head * headDim + 2 * i + part
        out.set(data.subarray(from * cols, (from + 1) * cols), to * cols)
      }
    }
  }
  return out
}

function toFloat16(data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length)
  const view = new DataView(new ArrayBuffer(4))
  for (let i = 0; i < data.length; i++) {
    view.setFloat32(0, data[i]!)
    const bits = view.getUint32(0)
    const sign = (bits >>> 16) & 0x8000
    const exponent = ((bits >>> 23) & 0xff) - 127 + 15
    let mantissa = bits & 0x7fffff
    if (exponent <= 0) {
      // Subnormal or zero in half precision.
      mantissa = exponent < -10 ? 0 : (mantissa | 0x800000) >> (1 - exponent)
      out[i] = sign | ((mantissa + 0x1000) >> 13)
    } else if (exponent >= 31) {
      out[i] = sign | 0x7c00
    } else {
      // Round to nearest, ties to even (as torch and the native converter); a carry out of the mantissa bumps the exponent.
      const roundUp = (mantissa & 0x1000) !== 0 && ((mantissa & 0xfff) !== 0 || (mantissa & 0x2000) !== 0)
      out[i] = (sign | (exponent << 10) | (mantissa >> 13)) + (roundUp ? 1 : 0)
    }
  }
  return out
}

interface GgufTensor {
  name: string
  /** ggml order: fastest-varying dimension first (reverse of the PyTorch shape). */
  dims: number[]
  data: Float32Array
  format: GgufTensorFormat
}

/**
 * llama.cpp's Q4_K_M: the output matrix (or a tied token embedding) at q6_k, and attn_v and ffn_down at q6_k in the
 * first and last eighth of the layers and every third one in between; everything else q4_k.
 */
export function q4KMediumMoreBits(layer: number, numLayers: number): boolean {
  const eighth = Math.floor(numLayers / 8)
  return layer < eighth || layer >= Math.floor((7 * numLayers) / 8) || (layer - eighth) % 3 === 2
}

/** A matrix's format in a file of `fileFormat`: when rows are not whole blocks, the one llama-quantize takes (q4_k: q5_0, q6_k: q8_0). */
function matrixFormat(fileFormat: GgufFileFormat, ggufName: string, isOutput: boolean, numLayers: number, cols: number): GgufTensorFormat {
  const layer = /^blk\.(\d+)\.(attn_v|ffn_down)\.weight$/.exec(ggufName)
  const moreBits = isOutput || (layer !== null && q4KMediumMoreBits(Number(layer[1]), numLayers))
  let format: GgufTensorFormat = fileFormat === 'q4_k' && moreBits ? 'q6_k' : fileFormat
  const fallback: Partial<Record<GgufTensorFormat, GgufTensorFormat>> = {q4_k: 'q5_0', q6_k: 'q8_0'}
  while (cols % ggmlType(format).values !== 0) format = fallback[format] ?? 'f16'
  return format
}

function encodeTensor(tensor: GgufTensor): Uint8Array {
  const payload = (() => {
    if (tensor.format === 'f32') return tensor.data
    if (tensor.format === 'f16') return toFloat16(tensor.data)
    const [cols, rows] = tensor.dims as [number, number]
    return nativeOps().quantizeRows(tensor.data, rows, cols, tensor.format)
  })()
  return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
}

/** Token names and llama.cpp token types by id; ids the tokenizer does not cover (padded vocabularies) still need distinct names. */
function vocabularyById(json: any, vocabSize: number): {tokens: string[]; types: number[]} {
  const tokens: string[] = new Array(vocabSize).fill('')
  for (const [token, id] of Object.entries(json.model.vocab as Record<string, number>)) if (id < tokens.length) tokens[id] = token
  const types: number[] = tokens.map((token) => (/^<0x[0-9A-F]{2}>$/.test(token) ? 6 : 1))
  for (const added of json.added_tokens ?? []) {
    if (added.id < tokens.length) {
      tokens[added.id] = added.content
      types[added.id] = added.content === json.model.unk_token ? 2 : added.special ? 3 : 4
    }
  }
  tokens.forEach((token, id) => {
    if (token === '') {
      tokens[id] = `<unused${id}>`
      types[id] = 5
    }
  })
  return {tokens, types}
}

/**
 * A tokenizer.json BPE vocabulary as llama.cpp tokenizer metadata: byte-fallback (SentencePiece-style) vocabularies
 * as "llama" with scores, byte-level ones as "gpt2" with merges.
 */
function tokenizerMetadata(model: LoadedModel): Record<string, MetadataValue> {
  const json = JSON.parse(readFileSync(join(model.dir, 'tokenizer.json'), 'utf8'))
  const {tokens, types} = vocabularyById(json, model.config.vocabSize)
  const merges: string[] = (json.model.merges ?? []).map((merge: string | string[]) => (Array.isArray(merge) ? merge.join(' ') : merge))
  let metadata: Record<string, MetadataValue>
  if (json.model.byte_fallback === true) {
    // SentencePiece ranks merges by the merged piece's score: a piece made by an earlier merge scores higher.
    const scores = tokens.map(() => 0)
    merges.forEach((merge, rank) => {
      const id = json.model.vocab[merge.replace(' ', '')]
      if (id !== undefined && id < scores.length) scores[id] = -(rank + 1)
    })
    metadata = {
      'tokenizer.ggml.model': {type: 'string', value: 'llama'},
      'tokenizer.ggml.tokens': {type: 'strings', value: tokens},
      'tokenizer.ggml.scores': {type: 'f32s', value: scores},
      'tokenizer.ggml.token_type': {type: 'i32s', value: types},
    }
    const unknownId = types.indexOf(2)
    if (unknownId >= 0) metadata['tokenizer.ggml.unknown_token_id'] = {type: 'u32', value: unknownId}
  } else {
    metadata = {
      'tokenizer.ggml.model': {type: 'string', value: 'gpt2'},
      'tokenizer.ggml.pre': {type: 'string', value: ggufPreTokenizerName(json)},
      'tokenizer.ggml.tokens': {type: 'strings', value: tokens},
      'tokenizer.ggml.token_type': {type: 'i32s', value: types},
      'tokenizer.ggml.merges': {type: 'strings', value: merges},
    }
  }
  const configPath = join(model.dir, 'tokenizer_config.json')
  const template = existsSync(configPath) ? JSON.parse(readFileSync(configPath, 'utf8')).chat_template : undefined
  if (typeof template === 'string') metadata['tokenizer.chat_template'] = {type: 'string', value: template}
  if (model.config.bosTokenId !== null) {
    metadata['tokenizer.ggml.bos_token_id'] = {type: 'u32', value: model.config.bosTokenId}
    metadata['tokenizer.ggml.add_bos_token'] = {type: 'bool', value: model.tokenizer.encode('a')[0] === model.config.bosTokenId}
  }
  const eos = model.generationConfig.eosTokenIds[0] ?? model.config.eosTokenIds[0]
  if (eos !== undefined) metadata['tokenizer.ggml.eos_token_id'] = {type: 'u32', value: eos}
  return metadata
}

/** The GGUF architecture and extras of a config; throws where no GGUF file can say this model (checkable before any weights exist). */
export function ggufExportLayout(c: ModelConfig): {arch: string; extras: ReturnType<typeof archExtras>} {
  const arch = GGUF_EXPORT_ARCHITECTURES[c.architecture]
  if (arch === undefined) throw new Error(`GGUF export covers ${Object.keys(GGUF_EXPORT_ARCHITECTURES).join(', ')}, not ${c.architecture}`)
  return {arch, extras: archExtras(c, arch)}
}

/**
 * Writes `model` to `path` as GGUF (matrices in `format`, norms and biases always f32); `tensorFormat` may put a
 * matrix (by GGUF name) in another format instead (tests of the other block formats), which must divide its rows.
 */
export function writeGguf(model: LoadedModel, path: string, options: {format: GgufFileFormat; tensorFormat?: (ggufName: string) => GgufTensorFormat | undefined}): void {
  const c = model.config
  const {arch, extras} = ggufExportLayout(c)
  const tensorsByName = new Map(model.tensors.map((tensor) => [tensor.name, tensor]))
  const read = (name: string) => {
    const info = tensorsByName.get(name)
    if (!info) throw new Error(`missing tensor ${name}`)
    return {info, data: readTensorFloat32(info)}
  }
  const tensorFormatOf = (ggufName: string, cols: number): GgufTensorFormat | undefined => {
    const format = options.tensorFormat?.(ggufName)
    if (format !== undefined && cols % ggmlType(format).values !== 0) throw new Error(`${ggufName}: rows of ${cols} are not whole ${format} blocks`)
    return format
  }
  /** A matrix of the spec's HF tensors' rows stacked in order (Phi-3's fusions), q/k rows permuted where it says. */
  const matrix = (spec: Pick<ExportTensorSpec, 'gguf' | 'hf' | 'permuteHeads'>): GgufTensor => {
    const parts = spec.hf.map(read)
    const cols = parts[0]!.info.shape[1]!
    const rows = parts.reduce((sum, part) => sum + part.info.shape[0]!, 0)
    const data = new Float32Array(rows * cols)
    parts.reduce((offset, part) => (data.set(part.data, offset), offset + part.data.length), 0)
    const isOutput = spec.gguf === 'output.weight' || (spec.gguf === 'token_embd.weight' && c.tieWordEmbeddings)
    return {
      name: spec.gguf,
      dims: [cols, rows],
      data: spec.permuteHeads > 0 ? permuteRopeRows(data, spec.permuteHeads, rows, cols) : data,
      format: tensorFormatOf(spec.gguf, cols) ?? matrixFormat(options.format, spec.gguf, isOutput, c.numLayers, cols),
    }
  }
  const vector = (spec: Pick<ExportTensorSpec, 'gguf' | 'hf' | 'plusOne'>): GgufTensor => {
    const {info, data} = read(spec.hf[0]!)
    return {name: spec.gguf, dims: [info.shape[0]!], data: spec.plusOne ? data.map((v) => v + 1) : data, format: 'f32'}
  }
  const tensors: GgufTensor[] = [
    matrix({gguf: 'token_embd.weight', hf: ['model.embed_tokens.weight'], permuteHeads: 0}),
    vector({gguf: 'output_norm.weight', hf: ['model.norm.weight'], plusOne: normPlusOne(arch)}),
  ]
  if (!c.tieWordEmbeddings) tensors.push(matrix({gguf: 'output.weight', hf: ['lm_head.weight'], permuteHeads: 0}))
  // llama.cpp carries llama3 scaling as per-frequency divisors.
  if (c.ropeScaling.type === 'llama3') {
    tensors.push({name: 'rope_freqs.weight', dims: [c.headDim / 2], data: llama3RopeFactors(c.ropeScaling, c.headDim, c.ropeTheta), format: 'f32'})
  }
  for (const {name, values} of extras.tensors) tensors.push({name, dims: [values.length], data: values, format: 'f32'})
  for (let layer = 0; layer < c.numLayers; layer++) {
    for (const spec of layerTensorSpecs(c, arch, layer)) tensors.push(spec.vector ? vector(spec) : matrix(spec))
  }

  const metadata: Record<string, MetadataValue> = {
    'general.architecture': {type: 'string', value: arch},
    'general.name': {type: 'string', value: model.name},
    'general.alignment': {type: 'u32', value: ALIGNMENT},
    // llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q4_0, MOSTLY_Q8_0, MOSTLY_Q4_K_M
    'general.file_type': {type: 'u32', value: {f32: 0, f16: 1, q4_0: 2, q8_0: 7, q4_k: 15}[options.format]},
    [`${arch}.context_length`]: {type: 'u32', value: c.maxPositionEmbeddings},
    [`${arch}.embedding_length`]: {type: 'u32', value: c.hiddenSize},
    [`${arch}.block_count`]: {type: 'u32', value: c.numLayers},
    [`${arch}.feed_forward_length`]: {type: 'u32', value: c.intermediateSize},
    [`${arch}.attention.head_count`]: {type: 'u32', value: c.numHeads},
    [`${arch}.attention.head_count_kv`]: {type: 'u32', value: c.numKvHeads},
    [`${arch}.attention.key_length`]: {type: 'u32', value: c.headDim},
    [`${arch}.attention.value_length`]: {type: 'u32', value: c.headDim},
    [`${arch}.rope.dimension_count`]: {type: 'u32', value: c.rotaryDim ?? c.headDim}, // Phi-4-mini: partial rotary
    [`${arch}.rope.freq_base`]: {type: 'f32', value: c.ropeTheta},
    ...(c.ropeScaling.type === 'linear'
      ? {[`${arch}.rope.scaling.type`]: {type: 'string', value: 'linear'}, [`${arch}.rope.scaling.factor`]: {type: 'f32', value: c.ropeScaling.factor}}
      : {}),
    [`${arch}.attention.layer_norm_rms_epsilon`]: {type: 'f32', value: c.rmsNormEps},
    [`${arch}.vocab_size`]: {type: 'u32', value: c.vocabSize},
    ...extras.metadata,
    ...tokenizerMetadata(model),
  }

  const header = new ByteWriter()
  header.u32(0x46554747) // "GGUF"
  header.u32(3)
  header.u64(tensors.length)
  header.u64(Object.keys(metadata).length)
  for (const [key, value] of Object.entries(metadata)) writeMetadata(header, key, value)
  let offset = 0
  const offsets: number[] = []
  for (const tensor of tensors) {
    header.string(tensor.name)
    header.u32(tensor.dims.length)
    for (const dim of tensor.dims) header.u64(dim)
    const type = ggmlType(tensor.format)
    header.u32(type.id)
    header.u64(offset)
    offsets.push(offset)
    const bytes = (tensor.data.length / type.values) * type.bytes
    offset += Math.ceil(bytes / ALIGNMENT) * ALIGNMENT
  }
  header.pad(ALIGNMENT)

  const fd = openSync(path, 'w')
  try {
    writeSync(fd, header.bytes())
    let written = 0
    tensors.forEach((tensor, i) => {
      const payload = encodeTensor(tensor)
      const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
      if (written < offsets[i]!) writeSync(fd, Buffer.alloc(offsets[i]! - written))
      writeSync(fd, bytes)
      written = offsets[i]! + bytes.length
    })
    if (written < offset) writeSync(fd, Buffer.alloc(offset - written))
  } finally {
    closeSync(fd)
  }
}
