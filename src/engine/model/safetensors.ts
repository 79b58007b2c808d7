// Reads safetensors headers (single file or sharded via model.safetensors.index.json), reads tensors as floats, and writes
// files; a directory with only PyTorch .bin weights goes to torch-checkpoint.ts.
import {closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, writeSync} from 'node:fs'
import {join, resolve, sep} from 'node:path'
import {ModelLoadError, quotedValue} from '../errors.js'
import type {BlockFormat} from './gguf-block-types.js'
import {bf16BitsToFloat32, f16BitsToFloat32, float32ToBf16Bits, float32ToF16Bits} from './float-formats.js'
import {openRegularFile, readRegularFile} from './regular-file.js'
import {readTorchCheckpoint, readTorchShard, TORCH_INDEX_FILE, TORCH_SINGLE_FILE} from './torch-checkpoint.js'

export type TensorDtype = 'F32' | 'F16' | 'BF16'
/** What a tensor may be stored as: a float, bytes of GPT-OSS's MXFP4 experts (*_blocks, *_scales: gpt-oss.ts), or FP8 codes (fp8-checkpoint.ts). */
export type StoredDtype = TensorDtype | 'U8' | 'F8_E4M3' | 'F8_E5M2'

export interface TensorInfo {
  name: string
  dtype: StoredDtype
  shape: number[]
  path: string
  /** Absolute byte offset of the data in the file. */
  offset: number
  nbytes: number
  /** GGUF: the data are ggml blocks of this format (dtype then says nothing). */
  blockFormat?: BlockFormat
  /** GGUF llama q/k: rows interleaved per head for llama.cpp's rope; the native loader restores rotate_half order. */
  ropeInterleavedHeads?: number
  /** GPT-2's Conv1D: stored [in, out]; `shape` is the [out, in] the native loader transposes it to. */
  transposed?: boolean
  /** GPT-NeoX's query_key_value: rows per head as [q | k | v]; the native loader makes them [all q | all k | all v]. */
  qkvInterleavedHeads?: number
  /** Falcon's grouped query_key_value: with qkvInterleavedHeads groups, each [this many q heads | k | v] (1: GPT-NeoX's). */
  qkvQueriesPerGroup?: number
  /** GPT-J's q / k: with ropeInterleavedHeads, only each head's first this many rows are in interleaved rope order (absent: all). */
  ropeInterleavedDims?: number
  /** CodeGen's qkv_proj: each of its qkvInterleavedHeads groups is [q | v | k]. */
  qkvValueFirst?: true
  /** A fused qkv with interleaved rope (CodeGen): the ropeInterleavedHeads heads are its first this many rows once regrouped (q and k). */
  ropeInterleavedRows?: number
  /** GPT-OSS's MXFP4 experts: the data are fp4 pairs (dtype then says nothing) and these e8m0 scales sit beside them; the native loader dequantizes. */
  mxfp4Scales?: {path: string; offset: number; nbytes: number}
  /** A GGUF MXFP4 tensor: the data are ggml's 17-byte blocks (dtype then says nothing); the native loader dequantizes. */
  ggmlMxfp4?: true
  /** GGUF ssm_a under the name A_log: the data are the decay rate A = -exp(A_log) itself; the mixer loaders take it as it is. */
  decayRateStored?: true
  /** FP8 weights: the data are e4m3 / e5m2 codes (dtype then says nothing), each block of blockRows x blockCols times its scale here (fp8-checkpoint.ts); the native loader dequantizes. */
  fp8Scales?: {path: string; offset: number; nbytes: number; dtype: TensorDtype; blockRows: number; blockCols: number; format: 'e4m3' | 'e5m2'; whole: {offset: number; nbytes: number}}
  /** GGUF bitnet: the values times this per-tensor scale (gguf-bitnet-scales.ts), folded in by the native loader. */
  scale?: number
}

export const BYTES_PER_ELEMENT: Record<StoredDtype, number> = {F32: 4, F16: 2, BF16: 2, U8: 1, F8_E4M3: 1, F8_E5M2: 1}
const SUPPORTED_DTYPES: TensorDtype[] = ['F32', 'F16', 'BF16']
/** Byte tensors are read only as MXFP4 blocks and scales, which the GPT-OSS loader pairs and checks. */
const MXFP4_PART = /_(blocks|scales)$/
/** FP8 codes, read only as weights paired with their scales (fp8-checkpoint.ts). */
const FP8_DTYPES = ['F8_E4M3', 'F8_E5M2']
/** A header larger than this is a corrupt file, not a model (the format itself caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000
export const SINGLE_FILE = 'model.safetensors'
export const INDEX_FILE = 'model.safetensors.index.json'

/** Parses one .safetensors file's header into TensorInfo with absolute offsets, validating dtypes and extents. */
export function readSafetensorsHeader(path: string): TensorInfo[] {
  const fd = openModelFile(path)
  try {
    const fileSize = fstatSync(fd).size
    if (fileSize < 8) throw new ModelLoadError(`${path} is not a safetensors file (only ${fileSize} bytes).`)
    const lengthBytes = Buffer.alloc(8)
    readSync(fd, lengthBytes, 0, 8, 0)
    const headerLength = Number(lengthBytes.readBigUInt64LE(0))
    if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
      const why = headerLength > MAX_HEADER_BYTES ? `, more than the ${MAX_HEADER_BYTES} bytes the format allows` : ''
      throw new ModelLoadError(`${path} is not a valid safetensors file (header length ${headerLength}${why}, file size ${fileSize}).`)
    }
    const headerBytes = Buffer.alloc(headerLength)
    readSync(fd, headerBytes, 0, headerLength, 8)
    let header: unknown
    try {
      header = JSON.parse(headerBytes.toString('utf8'))
    } catch (error) {
      throw new ModelLoadError(`${path}: the safetensors header is not valid JSON.`, {cause: error})
    }
    if (!isJsonObject(header)) throw new ModelLoadError(`${path}: the safetensors header is not a JSON object.`)
    const dataStart = 8 + headerLength
    const tensors: TensorInfo[] = []
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__') continue
      if (!isJsonObject(entry)) throw new ModelLoadError(`${path}: tensor ${name} has a malformed header entry.`)
      tensors.push(parseEntry(path, name, entry, dataStart, fileSize))
    }
    refuseOverlaps(path, tensors)
    return tensors
  } finally {
    closeSync(fd)
  }
}

/** Opens a checkpoint file for reading; a directory, FIFO or device, or one that cannot be opened, is a ModelLoadError naming it (not EISDIR from a later read, nor a read that never ends). */
export function openModelFile(path: string): number {
  try {
    return openRegularFile(path)
  } catch (error) {
    throw new ModelLoadError(`Cannot open ${path}: ${(error as Error).message}`, {cause: error})
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function parseEntry(path: string, name: string, entry: {dtype?: unknown; shape?: unknown; data_offsets?: unknown}, dataStart: number, fileSize: number): TensorInfo {
  const dtype = entry.dtype
  if (typeof dtype !== 'string' || !((SUPPORTED_DTYPES as string[]).includes(dtype) || FP8_DTYPES.includes(dtype) || (dtype === 'U8' && MXFP4_PART.test(name)))) {
    if (dtype === undefined) throw new ModelLoadError(`${path}: tensor ${name} has no "dtype" (supported: ${SUPPORTED_DTYPES.join(', ')}).`)
    throw new ModelLoadError(`${path}: tensor ${name} has dtype ${quotedValue(dtype)}, which is not supported (supported: ${[...SUPPORTED_DTYPES, ...FP8_DTYPES].join(', ')}).`)
  }
  const shape = entry.shape
  const offsets = entry.data_offsets
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(offsets) || offsets.length !== 2) {
    throw new ModelLoadError(`${path}: tensor ${name} has a malformed header entry.`)
  }
  const [begin, end] = offsets as number[]
  const nbytes = (shape as number[]).reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[dtype as StoredDtype]
  if (!Number.isInteger(begin) || !Number.isInteger(end) || end - begin !== nbytes || begin < 0 || dataStart + end > fileSize) {
    throw new ModelLoadError(
      `${path}: tensor ${name} (${dtype} [${shape.join(', ')}]) has data offsets [${begin}, ${end}] that do not fit its size (${nbytes} bytes) or the file (${fileSize} bytes); the file may be truncated.`,
    )
  }
  return {name, dtype: dtype as StoredDtype, shape: shape as number[], path: resolve(path), offset: dataStart + begin, nbytes}
}

/** Two tensors whose data share bytes mean a corrupt header (the safetensors library refuses it too). */
export function refuseOverlaps(path: string, tensors: readonly {name: string; offset: number; nbytes: number | null}[]): void {
  const sized = tensors.filter((tensor) => tensor.nbytes !== null && tensor.nbytes > 0).sort((a, b) => a.offset - b.offset)
  for (let i = 1; i < sized.length; i++) {
    const [before, after] = [sized[i - 1]!, sized[i]!]
    if (after.offset < before.offset + before.nbytes!) {
      const end = Math.min(before.offset + before.nbytes!, after.offset + after.nbytes!)
      throw new ModelLoadError(`${path}: the data of tensors ${before.name} and ${after.name} overlap (bytes ${after.offset} to ${end}); the header is corrupt.`)
    }
  }
}

/** All tensors of a checkpoint directory: safetensors (sharded or not) first, as transformers prefers them, else PyTorch's .bin. */
export function readCheckpointTensors(dir: string): TensorInfo[] {
  const indexPath = join(dir, INDEX_FILE)
  if (existsSync(indexPath)) return readShardedTensors(dir, indexPath, (path) => ({tensors: readSafetensorsHeader(path)}))
  const singlePath = join(dir, SINGLE_FILE)
  if (existsSync(singlePath)) return readSafetensorsHeader(singlePath)
  if (existsSync(join(dir, TORCH_INDEX_FILE))) return readShardedTensors(dir, join(dir, TORCH_INDEX_FILE), readTorchShard)
  if (existsSync(join(dir, TORCH_SINGLE_FILE))) return readTorchCheckpoint(join(dir, TORCH_SINGLE_FILE))
  const files = existsSync(dir) ? readdirSync(dir) : []
  const hint = files.some((f) => f.endsWith('.bin') || f.endsWith('.pt'))
    ? ` PyTorch checkpoints load as ${TORCH_SINGLE_FILE} or ${TORCH_INDEX_FILE} with its shards.`
    : files.some((f) => f.endsWith('.gguf'))
      ? ` A GGUF file is loaded by its path: pass ${join(dir, files.find((f) => f.endsWith('.gguf'))!)} as the model.`
      : ''
  throw new ModelLoadError(`No ${SINGLE_FILE}, ${INDEX_FILE}, ${TORCH_SINGLE_FILE} or ${TORCH_INDEX_FILE} in ${dir}.${hint}`)
}

/** `skipped`: tensors a shard holds but the reader leaves out (a .bin's integer buffers), which its index may still name. */
function readShardedTensors(dir: string, indexPath: string, readShard: (path: string) => {tensors: TensorInfo[]; skipped?: Set<string>}): TensorInfo[] {
  let weightMap: unknown
  try {
    weightMap = JSON.parse(readRegularFile(indexPath).toString('utf8')).weight_map
  } catch (error) {
    throw new ModelLoadError(`Cannot parse ${indexPath}: ${(error as Error).message}`, {cause: error})
  }
  if (weightMap === null || typeof weightMap !== 'object') throw new ModelLoadError(`${indexPath} has no "weight_map" object.`)
  const byShard = new Map<string, string[]>()
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string') throw new ModelLoadError(`${indexPath}: weight_map entry for ${name} is not a file name.`)
    byShard.set(shard, [...(byShard.get(shard) ?? []), name])
  }
  const tensors: TensorInfo[] = []
  for (const [shard, names] of byShard) {
    const shardPath = join(dir, shard)
    if (!resolve(shardPath).startsWith(resolve(dir) + sep)) throw new ModelLoadError(`${indexPath} names shard ${shard}, which is not a file in ${dir}.`)
    if (!existsSync(shardPath)) throw new ModelLoadError(`${indexPath} names shard ${shard}, which is missing from ${dir}.`)
    const contents = readShard(shardPath)
    const found = new Map(contents.tensors.map((t) => [t.name, t]))
    for (const name of names) {
      const tensor = found.get(name)
      if (tensor === undefined && contents.skipped?.has(name)) continue
      if (tensor === undefined) throw new ModelLoadError(`${indexPath} places tensor ${name} in ${shard}, but that shard does not contain it.`)
      tensors.push(tensor)
    }
  }
  return tensors
}

/** `size` bytes of the file from `offset`; a file that ends sooner is a ModelLoadError. */
export function readFileBytes(path: string, offset: number, size: number): Uint8Array {
  const fd = openSync(path, 'r')
  try {
    const bytes = new Uint8Array(size)
    let done = 0
    while (done < size) {
      const n = readSync(fd, bytes, done, size - done, offset + done)
      if (n === 0) throw new ModelLoadError(`${path}: unexpected end of file at byte ${offset + done}.`)
      done += n
    }
    return bytes
  } finally {
    closeSync(fd)
  }
}

/** Reads a tensor's elements as float64 (exact for every supported dtype). */
export function readTensorFloat64(tensor: TensorInfo): Float64Array {
  return Float64Array.from(readTensorFloat32(tensor))
}

/** Reads a tensor's elements as float32, widening F16/BF16. */
export function readTensorFloat32(tensor: TensorInfo): Float32Array {
  if (tensor.dtype === 'U8' || tensor.ggmlMxfp4 || tensor.fp8Scales || FP8_DTYPES.includes(tensor.dtype)) throw new ModelLoadError(`Tensor ${tensor.name} holds ${tensor.dtype === 'U8' || tensor.ggmlMxfp4 ? 'MXFP4' : 'FP8'} codes, not floats (in ${tensor.path}).`)
  // A fresh buffer is aligned, and typed arrays are little-endian on every platform Node supports for us (x86-64, arm64).
  const bytes = readFileBytes(tensor.path, tensor.offset, tensor.nbytes)
  return scaled(tensor.dtype === 'F32' ? new Float32Array(bytes.buffer, 0, tensor.nbytes / 4) : widened(tensor.dtype, new Uint16Array(bytes.buffer, 0, tensor.nbytes / 2)), tensor.scale)
}

function widened(dtype: StoredDtype, halves: Uint16Array): Float32Array {
  const widen = dtype === 'F16' ? f16BitsToFloat32 : bf16BitsToFloat32
  const out = new Float32Array(halves.length)
  for (let i = 0; i < halves.length; i++) out[i] = widen(halves[i])
  return out
}

/** A GGUF bitnet weight's per-tensor scale multiplied in (in fp32, as the native loader folds it); in place. */
function scaled(values: Float32Array, scale: number | undefined): Float32Array {
  if (scale !== undefined) for (let i = 0; i < values.length; i++) values[i] = Math.fround(values[i]! * scale)
  return values
}

/** Encodes float values as little-endian bytes of the given dtype (rounding to nearest even). */
export function encodeFloats(values: Float32Array, dtype: StoredDtype): Uint8Array {
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`${dtype} codes are not floats to encode`)
  if (dtype === 'F32') return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength))
  const narrow = dtype === 'F16' ? float32ToF16Bits : float32ToBf16Bits
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = narrow(values[i])
  return new Uint8Array(out.buffer)
}

export interface TensorToWrite {
  name: string
  dtype: StoredDtype
  shape: number[]
  /** Called once, in order, while writing; lets a writer stream a large checkpoint without holding it all. */
  data: () => Uint8Array
}

/** Writes a .safetensors file: 8-byte length, JSON header padded with spaces to 8 bytes, then the data in order. */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {__metadata__: metadata}
  let cursor = 0
  for (const tensor of tensors) {
    const nbytes = tensor.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[tensor.dtype]
    header[tensor.name] = {dtype: tensor.dtype, shape: tensor.shape, data_offsets: [cursor, cursor + nbytes]}
    cursor += nbytes
  }
  let headerJson = JSON.stringify(header)
  headerJson += ' '.repeat((8 - (Buffer.byteLength(headerJson) % 8)) % 8)
  const headerBytes = Buffer.from(headerJson, 'utf8')
  const lengthBytes = Buffer.alloc(8)
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length))
  const fd = openSync(path, 'w')
  try {
    writeAll(fd, lengthBytes)
    writeAll(fd, headerBytes)
    for (const tensor of tensors) {
      const bytes = tensor.data()
      const expected = (header[tensor.name] as {data_offsets: number[]}).data_offsets
      if (bytes.byteLength !== expected[1] - expected[0]) {
        throw new Error(`writeSafetensors: ${tensor.name} produced ${bytes.byteLength} bytes, expected ${expected[1] - expected[0]}`)
      }
      writeAll(fd, bytes)
    }
  } finally {
    closeSync(fd)
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done)
}
