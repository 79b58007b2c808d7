// Reads a GGUF file's header (from the GGUF specification): metadata key/values and tensor infos with absolute data offsets.
import {closeSync, existsSync, fstatSync, openSync, readSync, statSync} from 'node:fs'
import {resolve} from 'node:path'
import {ModelLoadError, quotedValue} from '../errors.js'
import {refuseOverlaps} from './safetensors.js'

export type GgufValue = number | bigint | boolean | string | GgufValue[]

/** A bool key's value (undefined when absent); any other type is refused, as llama.cpp aborts on it, not read as false. */
export function ggufFlag(value: unknown, key: string, path?: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw new ModelLoadError(`${path ? `${path}: ` : ''}GGUF metadata ${key} is ${quotedValue(value)}, not a bool`)
  return value
}

/** GGUF value type ids (GGUF_TYPE_*). */
const enum GgufType {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
}

/** ggml tensor type ids and names (those pagedllm loads, and the rest for error messages). */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K',
  13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S',
  22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 31: 'Q4_0_4_4',
  32: 'Q4_0_4_8', 33: 'Q4_0_8_8', 34: 'TQ1_0', 35: 'TQ2_0', 36: 'IQ4_NL_4_4', 37: 'IQ4_NL_4_8', 38: 'IQ4_NL_8_8', 39: 'MXFP4',
}
/** Values per block and bytes per block of the types pagedllm loads (ggml's block layouts). */
export const GGML_BLOCKS: Record<string, {values: number; bytes: number}> = {
  F32: {values: 1, bytes: 4}, F16: {values: 1, bytes: 2}, BF16: {values: 1, bytes: 2},
  Q8_0: {values: 32, bytes: 34}, Q4_0: {values: 32, bytes: 18}, Q4_1: {values: 32, bytes: 20}, Q5_0: {values: 32, bytes: 22},
  Q5_1: {values: 32, bytes: 24}, IQ4_NL: {values: 32, bytes: 18}, Q2_K: {values: 256, bytes: 84}, Q3_K: {values: 256, bytes: 110},
  Q4_K: {values: 256, bytes: 144}, Q5_K: {values: 256, bytes: 176}, Q6_K: {values: 256, bytes: 210}, IQ4_XS: {values: 256, bytes: 136},
  TQ1_0: {values: 256, bytes: 54}, TQ2_0: {values: 256, bytes: 66}, MXFP4: {values: 32, bytes: 17},
}

export interface GgufTensorInfo {
  name: string
  /** ggml type name, e.g. Q4_K (or TYPE_<id> when unknown). */
  type: string
  /** PyTorch order (slowest-varying first): the reverse of ggml's ne[]. */
  shape: number[]
  /** Absolute byte offset of the data in the file. */
  offset: number
  /** Data size when the type is one pagedllm loads, else null. */
  nbytes: number | null
}

export interface GgufFile {
  path: string
  version: number
  metadata: Map<string, GgufValue>
  /**
   * Where each f32 metadata value's bytes lie in the file (an f32 array's: its first item's, the rest following), so
   * values a converter writes as metadata (Apertus's per-layer xIELU scalars) can be read as tensors of the file.
   */
  f32MetadataOffsets: Map<string, number>
  tensors: GgufTensorInfo[]
}

/** The fewest bytes one array item of a value type takes, so a count beyond the file is refused before anything is allocated. */
function minimumItemBytes(type: number): number {
  switch (type) {
    case GgufType.U8: case GgufType.I8: case GgufType.BOOL: return 1
    case GgufType.U16: case GgufType.I16: return 2
    case GgufType.U32: case GgufType.I32: case GgufType.F32: return 4
    case GgufType.ARRAY: return 12 // item type + count
    default: return 8 // 64-bit numbers, and strings (their length)
  }
}
/**
 * Bounds on metadata that no model comes near, so a hostile header fails with a message instead of exhausting memory
 * or the stack: array items in all (a 262k vocabulary's tokens, scores, types and merges are about a million), the
 * bytes of one string (a whole tokenizer.huggingface.json is tens of MB), and arrays inside arrays.
 */
const MAX_METADATA_ARRAY_ITEMS = 1 << 23
const MAX_STRING_BYTES = 256 << 20
const MAX_ARRAY_NESTING = 8
/** ggml tensors have at most four dimensions (GGML_MAX_DIMS). */
const MAX_DIMS = 4
/** The smallest tensor info (empty name, no dims) and key/value pair (empty key, a one-byte value). */
const MIN_TENSOR_INFO_BYTES = 24
const MIN_KV_BYTES = 13

/** Reads the header part of the file through a growing window, so a multi-GB model is never read whole. */
class HeaderReader {
  private buffer = Buffer.alloc(0)
  private view = new DataView(this.buffer.buffer)
  offset = 0
  private arrayItemsLeft = MAX_METADATA_ARRAY_ITEMS

  constructor(private readonly fd: number, private readonly fileSize: number, private readonly path: string) {}

  fail(why: string): never {
    throw new ModelLoadError(`${this.path}: not a readable GGUF file (${why} at byte ${this.offset})`)
  }

  /** Refuses a count of items that cannot all fit in the rest of the file. */
  count(itemBytes: number, what: string): number {
    const count = this.u64()
    if (count * itemBytes > this.fileSize - this.offset) this.fail(`truncated: ${count} ${what} cannot fit in the rest of the file`)
    return count
  }

  private need(n: number): void {
    if (this.offset + n <= this.buffer.length) return
    if (this.offset + n > this.fileSize) this.fail('truncated')
    const size = Math.min(this.fileSize, Math.max(this.offset + n, this.buffer.length * 2, 1 << 20))
    const bigger = Buffer.alloc(size)
    this.buffer.copy(bigger)
    let at = this.buffer.length
    while (at < size) {
      const got = readSync(this.fd, bigger, at, size - at, at)
      if (got <= 0) this.fail('truncated')
      at += got
    }
    this.buffer = bigger
    this.view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength)
  }

  private take(n: number): number {
    this.need(n)
    this.offset += n
    return this.offset - n
  }

  /** Reads n bytes through the view (taken after the window has grown). */
  private read<T>(n: number, get: (view: DataView, at: number) => T): T {
    const at = this.take(n)
    return get(this.view, at)
  }

  u32 = (): number => this.read(4, (v, at) => v.getUint32(at, true))
  u64 = (): number => {
    const value = this.read(8, (v, at) => v.getBigUint64(at, true))
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('a size beyond 2^53')
    return Number(value)
  }
  string = (): string => {
    const length = this.u64()
    if (length > MAX_STRING_BYTES) this.fail(`a string of ${length} bytes (at most ${MAX_STRING_BYTES})`)
    const at = this.take(length)
    return this.buffer.toString('utf8', at, at + length)
  }
  /** The u32 item type of the array whose header starts at `at` (already read). */
  itemTypeAt(at: number): number {
    return this.view.getUint32(at, true)
  }
  align(alignment: number): void {
    this.offset = Math.ceil(this.offset / alignment) * alignment
  }

  value(type: number, depth = 0): GgufValue {
    switch (type) {
      case GgufType.U8: return this.read(1, (v, at) => v.getUint8(at))
      case GgufType.I8: return this.read(1, (v, at) => v.getInt8(at))
      case GgufType.U16: return this.read(2, (v, at) => v.getUint16(at, true))
      case GgufType.I16: return this.read(2, (v, at) => v.getInt16(at, true))
      case GgufType.U32: return this.u32()
      case GgufType.I32: return this.read(4, (v, at) => v.getInt32(at, true))
      case GgufType.F32: return this.read(4, (v, at) => v.getFloat32(at, true))
      case GgufType.BOOL: return this.read(1, (v, at) => v.getUint8(at)) !== 0
      case GgufType.STRING: return this.string()
      case GgufType.U64: return this.read(8, (v, at) => v.getBigUint64(at, true))
      case GgufType.I64: return this.read(8, (v, at) => v.getBigInt64(at, true))
      case GgufType.F64: return this.read(8, (v, at) => v.getFloat64(at, true))
      case GgufType.ARRAY: {
        if (depth === MAX_ARRAY_NESTING) this.fail(`arrays nested deeper than ${MAX_ARRAY_NESTING}`)
        const itemType = this.u32()
        const count = this.count(minimumItemBytes(itemType), 'array items')
        if (count > this.arrayItemsLeft) this.fail(`more than ${MAX_METADATA_ARRAY_ITEMS} array items in all`)
        this.arrayItemsLeft -= count
        const items: GgufValue[] = new Array(count)
        for (let i = 0; i < count; i++) items[i] = this.value(itemType, depth + 1)
        return items
      }
      default: return this.fail(`unknown value type ${type}`)
    }
  }
}

export function isGgufPath(path: string): boolean {
  return path.toLowerCase().endsWith('.gguf')
}

/**
 * A path naming an existing GGUF file (model paths are otherwise Hugging Face directories): by its .gguf extension or,
 * as vLLM and llama.cpp take a GGUF file of any name, by its magic.
 */
export function isGgufFile(path: string): boolean {
  if (!existsSync(path) || !statSync(path).isFile()) return false
  if (isGgufPath(path)) return true
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const magic = Buffer.alloc(4)
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.toString('latin1') === 'GGUF'
  } catch {
    return false // unreadable: not taken for GGUF, so the error names the path as given
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Parses the header, metadata and (unless metadataOnly) the tensor infos of a GGUF file. */
export function readGguf(path: string, options: {metadataOnly?: boolean} = {}): GgufFile {
  const absolute = resolve(path)
  let fd: number
  try {
    fd = openSync(absolute, 'r')
  } catch (error) {
    throw new ModelLoadError(`Cannot open ${absolute}: ${(error as Error).message}`, {cause: error})
  }
  try {
    const fileSize = fstatSync(fd).size
    const reader = new HeaderReader(fd, fileSize, absolute)
    if (reader.u32() !== 0x46554747) reader.fail('bad magic')
    const version = reader.u32()
    if (version < 2 || version > 3) reader.fail(`unsupported version ${version} (GGUF versions 2 and 3 are read)`)
    const tensorCount = reader.count(MIN_TENSOR_INFO_BYTES, 'tensors')
    const kvCount = reader.count(MIN_KV_BYTES, 'metadata keys')
    const metadata = new Map<string, GgufValue>()
    const f32MetadataOffsets = new Map<string, number>()
    for (let i = 0; i < kvCount; i++) {
      const key = reader.string()
      if (metadata.has(key)) reader.fail(`duplicate metadata key ${key}`)
      const type = reader.u32()
      const at = reader.offset
      const value = reader.value(type)
      metadata.set(key, value)
      // An array's items follow its item type (u32) and count (u64).
      if (type === GgufType.F32) f32MetadataOffsets.set(key, at)
      if (type === GgufType.ARRAY && reader.itemTypeAt(at) === GgufType.F32) f32MetadataOffsets.set(key, at + 12)
    }
    const tensors: GgufTensorInfo[] = []
    if (options.metadataOnly) return {path: absolute, version, metadata, f32MetadataOffsets, tensors}
    const relative: number[] = []
    const names = new Set<string>()
    for (let i = 0; i < tensorCount; i++) {
      const name = reader.string()
      if (names.has(name)) reader.fail(`duplicate tensor name ${name}`)
      names.add(name)
      const numDims = reader.u32()
      if (numDims > MAX_DIMS) reader.fail(`tensor ${name} has ${numDims} dimensions (at most ${MAX_DIMS})`)
      const dims = Array.from({length: numDims}, () => reader.u64())
      const typeId = reader.u32()
      relative.push(reader.u64())
      const type = GGML_TYPE_NAMES[typeId] ?? `TYPE_${typeId}`
      const block = GGML_BLOCKS[type]
      const count = dims.reduce((a, b) => a * b, 1)
      const nbytes = block && dims[0] % block.values === 0 ? (count / block.values) * block.bytes : null
      tensors.push({name, type, shape: [...dims].reverse(), offset: 0, nbytes})
    }
    const raw = metadata.get('general.alignment') ?? 32
    const declared = typeof raw === 'bigint' ? Number(raw) : raw
    const alignment = typeof declared === 'number' && Number.isInteger(declared) && declared > 0 && (declared & (declared - 1)) === 0 ? declared : 0
    if (alignment === 0) reader.fail(`general.alignment ${String(declared)} is not a power of two`)
    reader.align(alignment)
    const dataStart = reader.offset
    tensors.forEach((tensor, i) => {
      if (relative[i]! % alignment !== 0) reader.fail(`tensor ${tensor.name}'s data offset ${relative[i]} is not a multiple of the alignment ${alignment}`)
      tensor.offset = dataStart + relative[i]!
      if (tensor.nbytes !== null && tensor.offset + tensor.nbytes > fileSize) {
        throw new ModelLoadError(`${absolute}: tensor ${tensor.name} (${tensor.type} [${tensor.shape.join(', ')}]) ends past the end of the file; the file may be truncated.`)
      }
    })
    refuseOverlaps(absolute, tensors)
    refuseGaps(absolute, tensors, relative, alignment, fileSize - dataStart)
    return {path: absolute, version, metadata, f32MetadataOffsets, tensors}
  } finally {
    closeSync(fd)
  }
}

/**
 * Tensors packed in their listed order, each at the aligned end of the one before, as llama.cpp's reader requires: a
 * gap means a tensor's type or dims say fewer bytes than were written for it (a file read wrong, not a file to run).
 * Checked up to the first tensor of a type we do not size (the loader names it), and to the end of the file.
 */
function refuseGaps(path: string, tensors: GgufTensorInfo[], relative: number[], alignment: number, dataBytes: number): void {
  let expected = 0
  for (const [i, tensor] of tensors.entries()) {
    if (tensor.nbytes === null) return
    if (relative[i] !== expected) {
      const before = tensors[i - 1]
      const why = before ? `tensor ${before.name} (${before.type} [${before.shape.join(', ')}]) before it ends at ${expected}: its type or shape does not match the bytes written for it` : 'the data section starts at 0'
      throw new ModelLoadError(`${path}: tensor ${tensor.name}'s data is at offset ${relative[i]}, but ${why}.`)
    }
    expected += Math.ceil(tensor.nbytes / alignment) * alignment
  }
  // Writers pad the last tensor to the alignment and stop: more bytes after it are the last tensor's, misdescribed.
  const last = tensors.at(-1)
  if (last && dataBytes > expected) throw new ModelLoadError(`${path}: ${dataBytes - expected} bytes follow the last tensor, ${last.name} (${last.type} [${last.shape.join(', ')}]): its type or shape does not match the bytes written for it.`)
}
