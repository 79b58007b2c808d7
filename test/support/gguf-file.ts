// Writes small GGUF files (header, key/value metadata, optional tensors) so the GGUF reader is tested on files we make, hostile ones included.
import {nativeOps} from '../../src/engine/native.js'

/** A metadata value: the GGUF types tokenizer vocabularies and llama configs use. */
export type GgufEntry =
  | {type: 'string'; value: string}
  | {type: 'u32' | 'i32' | 'f32'; value: number}
  | {type: 'u64'; value: bigint}
  | {type: 'bool'; value: boolean}
  | {type: 'strings'; value: string[]}
  | {type: 'i32s' | 'f32s'; value: number[]}
  | {type: 'bools'; value: boolean[]}

/** A u32 / f32 metadata entry. */
export const u32 = (value: number) => ({type: 'u32' as const, value})
export const f32 = (value: number) => ({type: 'f32' as const, value})

/** llama.cpp's names of a checkpoint's global tensors: the embeddings, the final norm and the output head. */
export const GGUF_GLOBAL_NAMES: Record<string, string> = {'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight'}

/** One tensor: ggml dims (fastest-varying first), ggml type id, its data, and optionally a forced relative offset. */
export interface GgufTensorSpec {
  name: string
  dims: number[]
  /** ggml type id (0 = F32, 1 = F16, 8 = Q8_0, ...); F32 by default. */
  type?: number
  data: Buffer
  /** Offset relative to the data section; by default the next aligned one. */
  offset?: number
}

/** A test's changes to a file it writes from a model. */
export interface GgufEdits {
  /** Changes the metadata; undefined drops a key. */
  edit?: (m: Record<string, GgufEntry>) => Record<string, GgufEntry | undefined>
  /** Changes the tensors (after naming, before quantizing). */
  tensors?: (specs: GgufTensorSpec[]) => GgufTensorSpec[]
}

/** The metadata without the keys an edit dropped (set to undefined). */
export function definedEntries(metadata: Record<string, GgufEntry | undefined>): Record<string, GgufEntry> {
  return Object.fromEntries(Object.entries(metadata).filter((e): e is [string, GgufEntry] => e[1] !== undefined))
}

export interface GgufFileOptions {
  version?: number
  tensors?: GgufTensorSpec[]
  /** The data section's alignment (general.alignment is written separately, as metadata). */
  alignment?: number
  /** Counts written in the header instead of the true ones (hostile files). */
  tensorCount?: bigint
  kvCount?: bigint
}

/**
 * Every matrix (and stack of expert matrices) at Q8_0 (ggml type 8), as a q8_0 conversion stores them; vectors, norms
 * (StableLM's stacked per-head ones), the routers (ffn_gate_inp), learned positions (position_embd) and biases (ERNIE's
 * [1, experts] exp_probs_b.bias), which llama.cpp's quantizer keeps in F32, as they are.
 */
export function q8_0Matrices(tensors: GgufTensorSpec[]): GgufTensorSpec[] {
  return tensors.map((t) => {
    if (t.dims.length < 2 || (t.type ?? 0) !== 0 || /ffn_gate_inp|_norm|position_embd|\.bias$/.test(t.name)) return t
    const cols = t.dims[0]!, rows = t.dims.slice(1).reduce((a, b) => a * b, 1)
    const blocks = nativeOps().quantizeRows(new Float32Array(new Uint8Array(t.data).buffer), rows, cols, 'q8_0')
    return {...t, type: 8, data: Buffer.from(blocks.buffer, blocks.byteOffset, blocks.byteLength)}
  })
}

// gguf.h: GGUF_TYPE_UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10.
const TYPE_IDS = {u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10}

export function ggufBytes(metadata: Record<string, GgufEntry>, versionOrOptions: number | GgufFileOptions = 3): Buffer {
  const options = typeof versionOrOptions === 'number' ? {version: versionOrOptions} : versionOrOptions
  const tensors = options.tensors ?? []
  const alignment = options.alignment ?? 32
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1')]
  let length = 4
  const push = (bytes: Buffer) => {
    parts.push(bytes)
    length += bytes.length
  }
  const u32 = (n: number) => push(Buffer.from(new Uint32Array([n]).buffer))
  const i32 = (n: number) => push(Buffer.from(new Int32Array([n]).buffer))
  const f32 = (n: number) => push(Buffer.from(new Float32Array([n]).buffer))
  const u64 = (n: number | bigint) => push(Buffer.from(new BigUint64Array([BigInt(n)]).buffer))
  const string = (text: string) => {
    const bytes = Buffer.from(text, 'utf8')
    u64(bytes.length)
    push(bytes)
  }
  u32(options.version ?? 3)
  u64(options.tensorCount ?? BigInt(tensors.length))
  u64(options.kvCount ?? BigInt(Object.keys(metadata).length))
  for (const [key, entry] of Object.entries(metadata)) {
    string(key)
    switch (entry.type) {
      case 'string': u32(TYPE_IDS.string); string(entry.value); break
      case 'u32': u32(TYPE_IDS.u32); u32(entry.value); break
      case 'i32': u32(TYPE_IDS.i32); i32(entry.value); break
      case 'f32': u32(TYPE_IDS.f32); f32(entry.value); break
      case 'u64': u32(TYPE_IDS.u64); u64(entry.value); break
      case 'bool': u32(TYPE_IDS.bool); push(Buffer.from([entry.value ? 1 : 0])); break
      case 'strings': u32(TYPE_IDS.array); u32(TYPE_IDS.string); u64(entry.value.length); entry.value.forEach(string); break
      case 'i32s': u32(TYPE_IDS.array); u32(TYPE_IDS.i32); u64(entry.value.length); entry.value.forEach(i32); break
      case 'bools': u32(TYPE_IDS.array); u32(TYPE_IDS.bool); u64(entry.value.length); entry.value.forEach((flag) => push(Buffer.from([flag ? 1 : 0]))); break
      case 'f32s': u32(TYPE_IDS.array); u32(TYPE_IDS.f32); u64(entry.value.length); entry.value.forEach(f32); break
    }
  }
  const aligned = (n: number) => Math.ceil(n / alignment) * alignment
  // A forced offset far past the data (a hostile file) is written in the header only.
  const MAX_DATA = 1 << 30
  let cursor = 0
  const offsets = tensors.map((tensor) => {
    const offset = tensor.offset ?? cursor
    if (offset + tensor.data.length <= MAX_DATA) cursor = aligned(Math.max(cursor, offset + tensor.data.length))
    return offset
  })
  tensors.forEach((tensor, i) => {
    string(tensor.name)
    u32(tensor.dims.length)
    tensor.dims.forEach(u64)
    u32(tensor.type ?? 0)
    u64(offsets[i]!)
  })
  if (tensors.length === 0) return Buffer.concat(parts)
  push(Buffer.alloc(aligned(length) - length))
  const data = Buffer.alloc(cursor)
  tensors.forEach((tensor, i) => {
    if (offsets[i]! + tensor.data.length <= data.length) tensor.data.copy(data, offsets[i]!)
  })
  push(data)
  return Buffer.concat(parts)
}

/** Rows of each head moved from rotate_half's order (i, i + d/2) to interleaved pairs (2i, 2i + 1), as LlamaModel.permute. */
export function llamaPermuted(values: Float32Array, heads: number, cols: number): Float32Array<ArrayBuffer> {
  const out = new Float32Array(values.length)
  const headDim = values.length / cols / heads
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < headDim / 2; i++) {
      for (const half of [0, 1]) {
        const from = (h * headDim + half * (headDim / 2) + i) * cols
        out.set(values.subarray(from, from + cols), (h * headDim + 2 * i + half) * cols)
      }
    }
  }
  return out
}
